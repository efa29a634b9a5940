//! A byte-at-a-time state machine parsing `key=value;` records (decimal values, `#` comments to
//! the end of the line): the shape of protocol and configuration parsers in firmware.

use crate::scratch::with_scratch;

/// Bytes of text parsed per iteration.
pub const LEN: usize = 512;

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between records.
    Start,
    /// Inside a key.
    Key,
    /// After `=`, before the first digit.
    Equals,
    /// Inside a decimal value.
    Value,
    /// Inside a comment.
    Comment,
    /// After a syntax error, until the next `;` or newline.
    Skip,
}

/// What one parse found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Well-formed records.
    pub records: u32,
    /// Records skipped after a syntax error.
    pub errors: u32,
    /// Hash of every accepted key combined with its value.
    pub hash: u32,
}

/// Parses `text`.
pub fn parse(text: &[u8]) -> Summary {
    let mut summary = Summary::default();
    let mut state = State::Start;
    let (mut key, mut value) = (0u32, 0u32);
    for &c in text {
        state = match (state, c) {
            (State::Start, b'#') | (State::Key, b'#') => State::Comment,
            (State::Start, b' ' | b'\n' | b';') => State::Start,
            (State::Start, b'a'..=b'z' | b'_') => {
                key = u32::from(c);
                State::Key
            }
            (State::Key, b'a'..=b'z' | b'_' | b'0'..=b'9') => {
                key = key.wrapping_mul(33) ^ u32::from(c);
                State::Key
            }
            (State::Key, b'=') => State::Equals,
            (State::Equals | State::Value, b'0'..=b'9') => {
                value = if state == State::Equals { 0 } else { value };
                value = value.wrapping_mul(10).wrapping_add(u32::from(c - b'0'));
                State::Value
            }
            (State::Value, b';' | b'\n') => {
                summary.records += 1;
                summary.hash = summary.hash.rotate_left(7) ^ key.wrapping_add(value);
                State::Start
            }
            (State::Comment, b'\n') => State::Start,
            (State::Comment, _) => State::Comment,
            (State::Skip, b';' | b'\n') => State::Start,
            (State::Skip, _) => State::Skip,
            _ => {
                summary.errors += 1;
                State::Skip
            }
        };
    }
    summary
}

/// Fills `text` with records, comments and the occasional error, from a fixed pattern.
fn generate(text: &mut [u8; LEN]) {
    const PIECES: [&[u8]; 6] = [
        b"speed=1200;",
        b"temp_c=23;\n",
        b"# calibration\n",
        b"gain_2=77;",
        b"bad=x1;",
        b"threshold=65535;\n",
    ];
    let mut at = 0;
    let mut piece = 0;
    while at < LEN {
        for &c in PIECES[piece % PIECES.len()] {
            if at < LEN {
                text[at] = c;
                at += 1;
            }
        }
        piece += 1;
    }
}

/// `n` iterations: each parses the text, then rewrites one digit of it from the result.
pub fn run(n: u32) -> u32 {
    with_scratch(|s| {
        generate(&mut s.text);
        let mut check = 0u32;
        let mut at = 0usize;
        for _ in 0..n {
            let summary = parse(&s.text);
            check = check.rotate_left(9) ^ summary.hash ^ (summary.records << 16) ^ summary.errors;
            // The next digit after `at` becomes a digit derived from the checksum.
            for _ in 0..LEN {
                at = (at + 1) % LEN;
                if s.text[at].is_ascii_digit() {
                    s.text[at] = b'0' + (check % 10) as u8;
                    break;
                }
            }
        }
        check
    })
    .unwrap_or(0)
}
