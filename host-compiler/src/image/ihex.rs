//! Intel HEX: the image as text records for flash tools that want `.hex` files.
//!
//! [`encode`] writes data records of up to 16 bytes (type `00`) starting at the given 32-bit
//! address, an extended linear address record (type `04`, the upper 16 bits) before the first
//! data record and whenever the data crosses a 64 KiB boundary (a data record never crosses
//! one), and the end-of-file record (`:00000001FF`). Every record ends with its checksum: the
//! two's complement of the sum of its bytes, so that all bytes of a record sum to 0 mod 256.
//! Lines end with `\n`. [`decode`] reads records back (types 00, 01, 02, 04, 05), checking
//! every checksum; the tests round-trip through it.

use std::fmt::Write as _;

/// Data bytes per data record (the common choice of flash tools; at most 255).
pub const BYTES_PER_RECORD: usize = 16;

/// Why Intel HEX could not be written or read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IhexError {
    /// `address + len` exceeds the 32-bit address space Intel HEX can describe.
    AddressOverflow {
        /// Start address.
        address: u64,
        /// Bytes to place.
        len: usize,
    },
    /// A line of the input is not a well-formed record (1-based line number).
    Malformed(usize),
    /// A record's checksum does not match (1-based line number).
    Checksum(usize),
    /// The input has no end-of-file record.
    MissingEof,
}

impl std::fmt::Display for IhexError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IhexError::AddressOverflow { address, len } => write!(
                f,
                "{len} bytes at {address:#x} do not fit the 32-bit address space of Intel HEX"
            ),
            IhexError::Malformed(line) => write!(f, "line {line}: malformed Intel HEX record"),
            IhexError::Checksum(line) => write!(f, "line {line}: checksum mismatch"),
            IhexError::MissingEof => f.write_str("no end-of-file record"),
        }
    }
}

impl std::error::Error for IhexError {}

/// Appends one record `:LLAAAATT<data>CC\n`.
fn record(out: &mut String, address: u16, kind: u8, data: &[u8]) {
    debug_assert!(data.len() <= 255);
    let [hi, lo] = address.to_be_bytes();
    let mut sum = (data.len() as u8)
        .wrapping_add(hi)
        .wrapping_add(lo)
        .wrapping_add(kind);
    let _ = write!(out, ":{:02X}{address:04X}{kind:02X}", data.len());
    for &b in data {
        sum = sum.wrapping_add(b);
        let _ = write!(out, "{b:02X}");
    }
    let _ = writeln!(out, "{:02X}", sum.wrapping_neg());
}

/// Encodes `data` placed at `address` as Intel HEX text.
pub fn encode(data: &[u8], address: u32) -> Result<String, IhexError> {
    let overflow = IhexError::AddressOverflow {
        address: u64::from(address),
        len: data.len(),
    };
    if u64::from(address) + data.len() as u64 > 1 << 32 {
        return Err(overflow);
    }
    // Each record is at most 11 + 2 * 16 + 1 characters.
    let mut out = String::with_capacity(data.len().div_ceil(BYTES_PER_RECORD) * 44 + 32);
    let mut upper: Option<u16> = None;
    let mut offset = 0usize;
    while offset < data.len() {
        let at = u64::from(address) + offset as u64;
        let high = (at >> 16) as u16;
        if upper != Some(high) {
            record(&mut out, 0, 0x04, &high.to_be_bytes());
            upper = Some(high);
        }
        let low = (at & 0xffff) as usize;
        let len = BYTES_PER_RECORD
            .min(data.len() - offset)
            .min(0x1_0000 - low);
        record(&mut out, low as u16, 0x00, &data[offset..offset + len]);
        offset += len;
    }
    record(&mut out, 0, 0x01, &[]);
    Ok(out)
}

/// A contiguous run of bytes read from Intel HEX.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Address of the first byte.
    pub address: u32,
    /// The bytes.
    pub data: Vec<u8>,
}

/// Decodes Intel HEX text into contiguous segments (adjacent records merged), checking every
/// checksum and requiring the end-of-file record. Blank lines are ignored.
pub fn decode(text: &str) -> Result<Vec<Segment>, IhexError> {
    let mut segments: Vec<Segment> = Vec::new();
    let mut base: u32 = 0;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let hex = line.strip_prefix(':').ok_or(IhexError::Malformed(n))?;
        if hex.len() % 2 != 0 || hex.len() < 10 {
            return Err(IhexError::Malformed(n));
        }
        let bytes = (0..hex.len())
            .step_by(2)
            .map(|j| u8::from_str_radix(&hex[j..j + 2], 16))
            .collect::<Result<Vec<u8>, _>>()
            .map_err(|_| IhexError::Malformed(n))?;
        let len = bytes[0] as usize;
        if bytes.len() != len + 5 {
            return Err(IhexError::Malformed(n));
        }
        if bytes.iter().fold(0u8, |s, &b| s.wrapping_add(b)) != 0 {
            return Err(IhexError::Checksum(n));
        }
        let address = u16::from_be_bytes([bytes[1], bytes[2]]);
        let data = &bytes[4..4 + len];
        match bytes[3] {
            0x00 => {
                let at = base.wrapping_add(u32::from(address));
                match segments.last_mut() {
                    Some(s) if s.address as u64 + s.data.len() as u64 == u64::from(at) => {
                        s.data.extend_from_slice(data)
                    }
                    _ => segments.push(Segment {
                        address: at,
                        data: data.to_vec(),
                    }),
                }
            }
            0x01 => return Ok(segments),
            0x02 if len == 2 => base = u32::from(u16::from_be_bytes([data[0], data[1]])) << 4,
            0x04 if len == 2 => base = u32::from(u16::from_be_bytes([data[0], data[1]])) << 16,
            0x03 | 0x05 if len == 4 => {}
            _ => return Err(IhexError::Malformed(n)),
        }
    }
    Err(IhexError::MissingEof)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_records_and_checksums() {
        // The classic example record: 16 bytes at 0x0100.
        let data = [
            0x21, 0x46, 0x01, 0x36, 0x01, 0x21, 0x47, 0x01, 0x36, 0x00, 0x7E, 0xFE, 0x09, 0xD2,
            0x19, 0x01,
        ];
        let text = encode(&data, 0x0100).unwrap();
        assert_eq!(
            text,
            ":020000040000FA\n:10010000214601360121470136007EFE09D2190140\n:00000001FF\n"
        );
        // Every record's bytes sum to 0 mod 256.
        for line in text.lines() {
            let hex = &line[1..];
            let sum = (0..hex.len())
                .step_by(2)
                .map(|j| u8::from_str_radix(&hex[j..j + 2], 16).unwrap())
                .fold(0u8, |s, b| s.wrapping_add(b));
            assert_eq!(sum, 0, "{line}");
        }
    }

    #[test]
    fn extended_linear_address_and_short_tail() {
        let text = encode(&[1, 2, 3], 0x4008_0000).unwrap();
        assert_eq!(text, ":020000044008B2\n:03000000010203F7\n:00000001FF\n");
        assert_eq!(encode(&[], 0x1000).unwrap(), ":00000001FF\n");
    }

    #[test]
    fn records_split_at_64k_boundaries() {
        // 40 bytes starting 8 bytes below a 64 KiB boundary: 8 bytes, then a type 04 record
        // for the next segment, then 16 + 16.
        let data: Vec<u8> = (0..40).collect();
        let text = encode(&data, 0x0001_fff8).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], ":020000040001F9");
        assert!(lines[1].starts_with(":08FFF800"), "{}", lines[1]);
        assert_eq!(lines[2], ":020000040002F8");
        assert!(lines[3].starts_with(":1000000008090A0B"), "{}", lines[3]);
        assert!(lines[4].starts_with(":10001000"), "{}", lines[4]);
        assert_eq!(lines[5], ":00000001FF");
        assert_eq!(lines.len(), 6);
        assert_eq!(
            decode(&text).unwrap(),
            vec![Segment {
                address: 0x0001_fff8,
                data
            }]
        );
    }

    #[test]
    fn round_trip_across_many_segments() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
        for address in [0u32, 0x0800_0000, 0x4010_fff3] {
            let text = encode(&data, address).unwrap();
            let segs = decode(&text).unwrap();
            assert_eq!(segs.len(), 1);
            assert_eq!(segs[0].address, address);
            assert_eq!(segs[0].data, data);
            // Four 64 KiB boundaries at most for 200 000 bytes, one 04 record each plus the first.
            let type04 = text.lines().filter(|l| &l[7..9] == "04").count();
            assert!((4..=5).contains(&type04), "{type04}");
        }
    }

    #[test]
    fn the_top_of_the_address_space() {
        assert!(encode(&[0; 16], 0xffff_fff0).is_ok());
        assert_eq!(
            encode(&[0; 17], 0xffff_fff0),
            Err(IhexError::AddressOverflow {
                address: 0xffff_fff0,
                len: 17
            })
        );
    }

    #[test]
    fn decode_rejects_bad_input() {
        assert_eq!(
            decode(":020000040000FB\n:00000001FF\n"),
            Err(IhexError::Checksum(1))
        );
        assert_eq!(decode("020000040000FA\n"), Err(IhexError::Malformed(1)));
        assert_eq!(decode(":020000040000FA\n"), Err(IhexError::MissingEof));
        assert_eq!(decode(":0300000001FF\n"), Err(IhexError::Malformed(1)));
    }
}
