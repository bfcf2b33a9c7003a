//! TAP 15 succinct hash bins: `bit_length` bits of SHA-256(target path) pick the bin
//! `{name_prefix}-{bin:0w x}`, `w` being the hex width of the last bin.

use super::{RoleKeys, RoleName};
use crate::error::{Error, ErrorKind, Field, Result};

/// A `succinct_roles` delegation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SuccinctRoles {
    /// Keys and threshold shared by every bin.
    pub role: RoleKeys,
    /// Bits of the hash used, 1 to 32.
    pub bit_length: u32,
    /// Bin names start with this and `-`.
    pub name_prefix: heapless::String<64>,
}

impl SuccinctRoles {
    /// The bin that `target_path` belongs to.
    pub fn role_for_target(&self, target_path: &str) -> Result<RoleName> {
        bin_name(&self.name_prefix, self.bit_length, target_path)
    }
}

/// The TAP 15 bin name for `target_path`.
pub fn bin_name(prefix: &str, bit_length: u32, target_path: &str) -> Result<RoleName> {
    if !(1..=32).contains(&bit_length) {
        return Err(Error::new(ErrorKind::BadValue, Field::BitLength));
    }
    let digest = crate::hashes::sha256(target_path.as_bytes());
    let mut first = [0u8; 4];
    first.copy_from_slice(digest.get(..4).unwrap_or(&[0; 4]));
    let bin = u64::from(u32::from_be_bytes(first)) >> (32 - bit_length);
    let last = (1u64 << bit_length) - 1;
    let width = ((64 - last.leading_zeros()) as usize).div_ceil(4);
    let too_long = || Error::new(ErrorKind::Limit, Field::NamePrefix);
    let mut name = RoleName::try_from(prefix).map_err(|_| too_long())?;
    name.push('-').map_err(|_| too_long())?;
    for i in (0..width).rev() {
        let nibble = (bin >> (4 * i)) & 0xf;
        let digit = b"0123456789abcdef"
            .get(nibble as usize)
            .copied()
            .unwrap_or(b'0');
        name.push(char::from(digit)).map_err(|_| too_long())?;
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_follow_the_last_bin() {
        // 2^1 bins: width 1; 2^4: 1; 2^5: 2; 2^32: 8.
        assert_eq!(bin_name("bins", 1, "a").unwrap().len(), "bins-0".len());
        // The bin is the first `bit_length` bits of SHA-256("a") = ca978112..., zero-padded hex.
        assert_eq!(bin_name("bins", 8, "a").unwrap().as_str(), "bins-ca");
        assert_eq!(bin_name("p", 12, "a").unwrap().as_str(), "p-ca9");
        assert_eq!(bin_name("p", 32, "a").unwrap().as_str(), "p-ca978112");
        assert_eq!(bin_name("p", 5, "a").unwrap().as_str(), "p-19");
        assert_eq!(bin_name("bins", 5, "a").unwrap().len(), "bins-00".len());
        assert_eq!(
            bin_name("bins", 32, "a").unwrap().len(),
            "bins-00000000".len()
        );
        assert!(bin_name("bins", 0, "a").is_err());
        assert!(bin_name("bins", 33, "a").is_err());
    }
}
