//! Hash-bin layouts: how top-level targets delegates every artifact to one of N bins. TAP 15
//! succinct bins by default (`bins-<hex>`, as python-tuf names them); classic
//! `path_hash_prefixes` bins for clients without TAP 15 (tough), one delegated role per bin.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// A repository's bins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layout {
    /// Number of bins: a power of two, 2..=16384.
    pub bins: u32,
    /// Classic `path_hash_prefixes` delegations instead of TAP 15 succinct roles.
    #[serde(default)]
    pub path_hash_prefixes: bool,
}

impl Layout {
    /// Checks the bin count.
    pub fn new(bins: u64, path_hash_prefixes: bool) -> Result<Self, String> {
        if !(2..=16384).contains(&bins) || !bins.is_power_of_two() {
            return Err(format!(
                "number_of_delegated_bins must be a power of two from 2 to 16384, not {bins}"
            ));
        }
        Ok(Self {
            bins: bins as u32,
            path_hash_prefixes,
        })
    }

    /// Bits of the artifact path's SHA-256 that select its bin.
    pub fn bit_length(&self) -> u32 {
        self.bins.ilog2()
    }

    /// Hex digits of a classic bin's prefixes.
    fn prefix_len(&self) -> usize {
        self.bit_length().div_ceil(4) as usize
    }

    /// Prefixes per classic bin.
    fn prefixes_per_bin(&self) -> u64 {
        (1u64 << (4 * self.prefix_len())) / u64::from(self.bins)
    }

    /// The name of bin `i`.
    fn name(&self, i: u64) -> String {
        let width = self.prefix_len();
        if !self.path_hash_prefixes {
            return format!("bins-{i:0width$x}");
        }
        let per = self.prefixes_per_bin();
        let (lo, hi) = (i * per, i * per + per - 1);
        if per == 1 {
            format!("bins-{lo:0width$x}")
        } else {
            format!("bins-{lo:0width$x}-{hi:0width$x}")
        }
    }

    /// Every bin, in order.
    pub fn names(&self) -> Vec<String> {
        (0..u64::from(self.bins)).map(|i| self.name(i)).collect()
    }

    /// The bin an artifact path belongs to.
    pub fn bin_for(&self, path: &str) -> Result<String> {
        if !self.path_hash_prefixes {
            return otuf_core::metadata::bin_name("bins", self.bit_length(), path)
                .map(|n| n.as_str().to_string())
                .map_err(|e| Error::State(format!("bin for {path}: {e}")));
        }
        let digest = Sha256::digest(path.as_bytes());
        let top = u64::from_be_bytes([
            digest[0], digest[1], digest[2], digest[3], digest[4], digest[5], digest[6], digest[7],
        ]);
        let prefix = top >> (64 - 4 * self.prefix_len());
        Ok(self.name(prefix / self.prefixes_per_bin()))
    }

    /// Top-level targets' `delegations`, every bin signed by the online key.
    pub fn delegations(&self, keyid: &str, key: &Value) -> Value {
        if !self.path_hash_prefixes {
            return json!({
                "keys": {keyid: key},
                "succinct_roles": {"bit_length": self.bit_length(), "name_prefix": "bins",
                                   "keyids": [keyid], "threshold": 1},
            });
        }
        let (width, per) = (self.prefix_len(), self.prefixes_per_bin());
        let roles: Vec<Value> = (0..u64::from(self.bins))
            .map(|i| {
                let prefixes: Vec<String> = (i * per..(i + 1) * per)
                    .map(|p| format!("{p:0width$x}"))
                    .collect();
                json!({"name": self.name(i), "keyids": [keyid], "threshold": 1,
                       "terminating": true, "path_hash_prefixes": prefixes})
            })
            .collect();
        json!({"keys": {keyid: key}, "roles": roles})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_path_lands_in_the_bin_otuf_core_finds_by_delegation() {
        for (bins, classic) in [(2, false), (16, false), (32, true), (256, true), (2, true)] {
            let layout = Layout::new(bins, classic).unwrap();
            let names = layout.names();
            assert_eq!(names.len() as u64, bins);
            let key = crate::sign::SigningKey::generate().unwrap();
            let d = serde_json::to_vec(&layout.delegations(&key.keyid, &key.public)).unwrap();
            for i in 0..200 {
                let path = format!("firmware/{i}/image.bin");
                let bin = layout.bin_for(&path).unwrap();
                let m = otuf_core::metadata::delegations_for_target(&d, &path).unwrap();
                let found: Vec<&str> = m.roles.iter().map(|r| r.name.as_str()).collect();
                assert_eq!(found, vec![bin.as_str()], "{bins} classic={classic} {path}");
            }
        }
        assert!(Layout::new(300, false).is_err() && Layout::new(1, false).is_err());
        assert_eq!(Layout::new(32, true).unwrap().names()[1], "bins-08-0f");
    }
}
