//! i32 matrix multiply (16 x 16, wrapping): the inner loop of fixed-point control and
//! sensor-fusion code.

use crate::XorShift32;
use crate::scratch::with_scratch;

/// Rows and columns of every matrix.
pub const DIM: usize = 16;

/// `c = a * b`.
pub fn multiply(a: &[[i32; DIM]; DIM], b: &[[i32; DIM]; DIM], c: &mut [[i32; DIM]; DIM]) {
    for i in 0..DIM {
        for j in 0..DIM {
            let mut sum = 0i32;
            for k in 0..DIM {
                sum = sum.wrapping_add(a[i][k].wrapping_mul(b[k][j]));
            }
            c[i][j] = sum;
        }
    }
}

/// `n` iterations: each multiplies, then folds one product element back into `a`.
pub fn run(n: u32) -> u32 {
    with_scratch(|s| {
        let mut rng = XorShift32::new(1);
        for row in s.a.iter_mut().chain(s.b.iter_mut()) {
            for v in row.iter_mut() {
                *v = (rng.next_u32() % 201) as i32 - 100;
            }
        }
        let mut check = 0u32;
        for k in 0..n {
            multiply(&s.a, &s.b, &mut s.c);
            let at = k as usize % (DIM * DIM);
            let (i, j) = (at / DIM, at % DIM);
            s.a[i][j] = s.c[j][i] >> 8;
            check = check.rotate_left(3) ^ s.c[i][j] as u32;
        }
        check
    })
    .unwrap_or(0)
}
