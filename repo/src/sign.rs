//! Signing keys of the service: the online key (timestamp, snapshot, targets, bins) and, in
//! development mode only, a generated root key. Keys are PKCS#8 PEM files, as RSTUF's `fn:`
//! online key URIs name them.

use crate::error::{Error, Result};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::path::Path;

/// An ed25519 signing key with its TUF key object and key ID.
pub struct SigningKey {
    pair: ed25519_compact::KeyPair,
    /// The TUF key ID: SHA-256 of the canonical key object.
    pub keyid: String,
    /// The TUF key object.
    pub public: Value,
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The canonical JSON (securesystemslib's) of a value.
pub fn canonical(value: &Value) -> Result<Vec<u8>> {
    let bytes = serde_json::to_vec(value)?;
    otuf_core::json::canonicalize(&bytes).map_err(|e| Error::State(format!("canonical JSON: {e}")))
}

impl SigningKey {
    fn from_pair(pair: ed25519_compact::KeyPair) -> Result<Self> {
        let public = json!({"keytype": "ed25519", "scheme": "ed25519", "keyval": {"public": hex(&pair.pk[..])}});
        let keyid = hex(&Sha256::digest(canonical(&public)?));
        Ok(Self {
            pair,
            keyid,
            public,
        })
    }

    /// A new random key.
    pub fn generate() -> Result<Self> {
        Self::from_pair(ed25519_compact::KeyPair::generate())
    }

    /// Loads a PKCS#8 PEM key file.
    pub fn load(path: &Path) -> Result<Self> {
        let pem = std::fs::read_to_string(path).map_err(Error::io(path.display()))?;
        let sk = ed25519_compact::SecretKey::from_pem(&pem)
            .map_err(|e| Error::Key(format!("{}: {e}", path.display())))?;
        Self::from_pair(ed25519_compact::KeyPair {
            pk: sk.public_key(),
            sk,
        })
    }

    /// Writes the key as a PKCS#8 PEM file readable only by its owner.
    pub fn save(&self, path: &Path) -> Result<()> {
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(Error::io(path.display()))?;
        std::io::Write::write_all(&mut f, self.pair.sk.to_pem().as_bytes())
            .map_err(Error::io(path.display()))
    }

    /// A signature over canonical bytes, as a TUF signature object.
    pub fn sign(&self, canonical_signed: &[u8]) -> Value {
        let sig = self.pair.sk.sign(canonical_signed, None);
        json!({"keyid": self.keyid, "sig": hex(&sig[..])})
    }
}

/// A signed metadata file: `signed` signed by `keys`, written with keys in canonical order and
/// no white space (control characters escaped), so devices can verify it in streaming mode.
pub fn envelope(signed: &Value, keys: &[&SigningKey]) -> Result<Vec<u8>> {
    let canon = canonical(signed)?;
    let signatures: Vec<Value> = keys.iter().map(|k| k.sign(&canon)).collect();
    Ok(serde_json::to_vec(
        &json!({"signatures": signatures, "signed": signed}),
    )?)
}
