//! The Internet checksum (RFC 1071) and its incremental update (RFC 1624).

/// One's-complement sum of `data` (big-endian 16-bit words, an odd last byte padded with
/// zero), folded to 16 bits but not inverted, so that sums of parts add up: summed 32 bits at a time into 64 bits, which folds to the same
/// 16-bit value (RFC 1071 §2(B)) at half the loop trips of a word-by-word sum.
pub fn sum(data: &[u8]) -> u32 {
    let mut acc: u64 = 0;
    let mut words = data.chunks_exact(4);
    for w in &mut words {
        acc += u64::from(u32::from_be_bytes([w[0], w[1], w[2], w[3]]));
    }
    let rest = words.remainder();
    let mut pairs = rest.chunks_exact(2);
    for c in &mut pairs {
        acc += u64::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = pairs.remainder() {
        acc += u64::from(*last) << 8;
    }
    // Fold 64 -> 16 bits with end-around carries.
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u32
}

/// Folds a 32-bit accumulator into 16 bits.
#[inline]
pub fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// The checksum field value for `data` (whose checksum field must be zero).
pub fn checksum(data: &[u8]) -> u16 {
    !fold(sum(data))
}

/// RFC 1624 eqn. 3: the new checksum after a 16-bit field changes from `old` to `new`.
#[inline]
pub fn update(check: u16, old: u16, new: u16) -> u16 {
    !fold(u32::from(!check) + u32::from(!old) + u32::from(new))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example_sums_to_known_value() {
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum(&data)), 0xddf2);
    }

    #[test]
    fn incremental_update_matches_full_recompute() {
        let mut hdr = [
            0x45, 0x00, 0x00, 0x54, 0x00, 0x00, 0x40, 0x00, 0x40, 0x01, 0, 0, 0xc0, 0xa8, 0xfa,
            0x33, 0xc0, 0xa8, 0xfa, 0x34,
        ];
        let c = checksum(&hdr);
        hdr[2..4].copy_from_slice(&0x05dcu16.to_be_bytes());
        let full = checksum(&hdr);
        assert_eq!(update(c, 0x0054, 0x05dc), full);
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(sum(&[0x12]), 0x1200);
    }

    #[test]
    fn wide_sum_folds_like_a_word_by_word_sum() {
        let data: Vec<u8> = (0..9001u32)
            .map(|i| (i * 7919 % 251) as u8 ^ 0xff)
            .collect();
        for len in [0, 1, 2, 3, 5, 64, 1499, 9001] {
            let d = &data[..len];
            let mut slow: u32 = 0;
            for c in d.chunks(2) {
                slow += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
            }
            assert_eq!(fold(sum(d)), fold(slow), "len {len}");
        }
    }
}
