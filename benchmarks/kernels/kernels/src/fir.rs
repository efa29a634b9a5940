//! A 32-tap f32 FIR filter over 256 samples: the signal-processing loop of audio and sensor
//! firmware on an FPU-equipped core.

use crate::scratch::with_scratch;

/// Filter length.
pub const TAPS: usize = 32;
/// Output samples per iteration.
pub const SAMPLES: usize = 256;

/// `output[i] = sum over j of taps[j] * samples[i + j]` (multiply, then add: no fused
/// multiply-add, so both builds round identically).
pub fn filter(samples: &[f32; SAMPLES + TAPS], taps: &[f32; TAPS], output: &mut [f32; SAMPLES]) {
    for (i, out) in output.iter_mut().enumerate() {
        let mut acc = 0.0f32;
        for (j, &t) in taps.iter().enumerate() {
            acc += t * samples[i + j];
        }
        *out = acc;
    }
}

/// `n` iterations: each filters the samples, checksums the output bits and feeds one output
/// sample back into the input. The taps' absolute values sum to less than 1, so every value
/// stays finite and bounded.
pub fn run(n: u32) -> u32 {
    with_scratch(|s| {
        for (i, t) in s.taps.iter_mut().enumerate() {
            *t = ((i as i32 % 7) - 3) as f32 * (1.0 / 128.0);
        }
        for (i, x) in s.samples.iter_mut().enumerate() {
            *x = ((i as i32 * 37) % 101 - 50) as f32 * 0.25;
        }
        let mut check = 0u32;
        for k in 0..n {
            filter(&s.samples, &s.taps, &mut s.output);
            for y in s.output.iter() {
                check = check.rotate_left(1) ^ y.to_bits();
            }
            let at = k as usize % SAMPLES;
            s.samples[at + TAPS] = s.output[(at * 5) % SAMPLES] + 0.5;
        }
        check
    })
    .unwrap_or(0)
}
