//! Signing: the online key (timestamp, snapshot, targets, bins) and, in development mode only,
//! a generated root key; and the signed envelope. Keys are PEM files (PKCS#8, or SEC1/PKCS#1),
//! referenced from root as RSTUF does, by `x-rstuf-online-key-uri: fn:<file>`: ed25519,
//! ecdsa-sha2-nistp256 or rsassa-pss-sha256.

use crate::error::{Error, Result};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::path::Path;

/// The secret half, by algorithm.
enum Secret {
    Ed25519(ed25519_compact::KeyPair),
    EcdsaP256(p256::ecdsa::SigningKey),
    RsaPss(Box<rsa::pss::BlindedSigningKey<Sha256>>),
}

/// The key types otuf-repo signs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum KeyType {
    /// `ed25519`.
    Ed25519,
    /// `ecdsa-sha2-nistp256`.
    Ecdsa,
    /// `rsassa-pss-sha256` (3072 bits).
    Rsa,
}

/// A key file: a private key, or only the public half (a key holder who signs elsewhere).
pub enum KeyFile {
    /// A PEM private key.
    Private(SigningKey),
    /// A PEM public key (SPKI), as its TUF key object.
    Public(Value),
}

impl KeyFile {
    /// Reads a PEM private key or, failing that, a PEM public key.
    pub fn load(path: &Path) -> Result<Self> {
        use p256::pkcs8::DecodePublicKey;
        if let Ok(key) = SigningKey::load(path) {
            return Ok(Self::Private(key));
        }
        let pem = std::fs::read_to_string(path).map_err(Error::io(path.display()))?;
        let public = if let Ok(pk) = ed25519_compact::PublicKey::from_pem(&pem) {
            json!({"keytype": "ed25519", "scheme": "ed25519", "keyval": {"public": hex(&pk[..])}})
        } else if p256::PublicKey::from_public_key_pem(&pem).is_ok() {
            json!({"keytype": "ecdsa", "scheme": "ecdsa-sha2-nistp256", "keyval": {"public": pem}})
        } else if rsa::RsaPublicKey::from_public_key_pem(&pem).is_ok() {
            json!({"keytype": "rsa", "scheme": "rsassa-pss-sha256", "keyval": {"public": pem}})
        } else {
            return Err(Error::Key(format!(
                "{}: not an unencrypted PEM private key or a PEM public key of type ed25519, ecdsa P-256 or RSA",
                path.display()
            )));
        };
        Ok(Self::Public(public))
    }

    /// The TUF key object.
    pub fn public(&self) -> &Value {
        match self {
            Self::Private(k) => &k.public,
            Self::Public(v) => v,
        }
    }
}

/// A signing key with its TUF key object and key ID.
pub struct SigningKey {
    secret: Secret,
    /// The TUF key ID.
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

/// The TUF key ID of a key object: SHA-256 of its canonical form.
pub fn key_id(public: &Value) -> Result<String> {
    Ok(hex(&Sha256::digest(canonical(public)?)))
}

/// The base64 body of a PEM document, for comparing keys whatever the line layout.
fn pem_body(pem: &str) -> String {
    pem.lines()
        .filter(|l| !l.starts_with("-----"))
        .flat_map(|l| l.chars().filter(|c| !c.is_whitespace()))
        .collect()
}

impl SigningKey {
    fn from_secret(secret: Secret) -> Result<Self> {
        use p256::pkcs8::EncodePublicKey;
        let key_err = |e: &dyn std::fmt::Display| Error::Key(format!("public key: {e}"));
        let public = match &secret {
            Secret::Ed25519(pair) => {
                json!({"keytype": "ed25519", "scheme": "ed25519", "keyval": {"public": hex(&pair.pk[..])}})
            }
            Secret::EcdsaP256(sk) => {
                let pem = sk
                    .verifying_key()
                    .to_public_key_pem(p256::pkcs8::LineEnding::LF)
                    .map_err(|e| key_err(&e))?;
                json!({"keytype": "ecdsa", "scheme": "ecdsa-sha2-nistp256", "keyval": {"public": pem}})
            }
            Secret::RsaPss(sk) => {
                let pem = rsa::RsaPublicKey::from(sk.as_ref().as_ref())
                    .to_public_key_pem(rsa::pkcs8::LineEnding::LF)
                    .map_err(|e| key_err(&e))?;
                json!({"keytype": "rsa", "scheme": "rsassa-pss-sha256", "keyval": {"public": pem}})
            }
        };
        Ok(Self {
            keyid: key_id(&public)?,
            secret,
            public,
        })
    }

    /// A new random ed25519 key.
    pub fn generate() -> Result<Self> {
        Self::generate_of(KeyType::Ed25519)
    }

    /// A new random key of `kind`.
    pub fn generate_of(kind: KeyType) -> Result<Self> {
        Self::from_secret(match kind {
            KeyType::Ed25519 => Secret::Ed25519(ed25519_compact::KeyPair::generate()),
            KeyType::Ecdsa => {
                Secret::EcdsaP256(p256::ecdsa::SigningKey::random(&mut rand_core::OsRng))
            }
            KeyType::Rsa => {
                let sk = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 3072)
                    .map_err(|e| Error::Key(format!("rsa: {e}")))?;
                Secret::RsaPss(Box::new(rsa::pss::BlindedSigningKey::new(sk)))
            }
        })
    }

    /// The public half as a PEM (SPKI) document, for a key holder to hand to a ceremony.
    pub fn public_pem(&self) -> Result<String> {
        use p256::pkcs8::EncodePublicKey;
        let err = |e: &dyn std::fmt::Display| Error::Key(format!("public key: {e}"));
        match &self.secret {
            Secret::Ed25519(pair) => Ok(pair.pk.to_pem()),
            Secret::EcdsaP256(sk) => sk
                .verifying_key()
                .to_public_key_pem(p256::pkcs8::LineEnding::LF)
                .map_err(|e| err(&e)),
            Secret::RsaPss(sk) => rsa::RsaPublicKey::from(sk.as_ref().as_ref())
                .to_public_key_pem(rsa::pkcs8::LineEnding::LF)
                .map_err(|e| err(&e)),
        }
    }

    /// Whether `public` (a TUF key object) is this key's public half.
    pub fn is(&self, public: &Value) -> bool {
        let field = |v: &Value, f: &str| v[f].as_str().map(str::to_string);
        field(&self.public, "keytype") == field(public, "keytype")
            && field(&self.public, "scheme") == field(public, "scheme")
            && self.public["keyval"]["public"].as_str().map(pem_body)
                == public["keyval"]["public"].as_str().map(pem_body)
    }

    /// Loads a PEM private key: PKCS#8 (ed25519, P-256 or RSA), SEC1 (`EC PRIVATE KEY`) or
    /// PKCS#1 (`RSA PRIVATE KEY`).
    pub fn load(path: &Path) -> Result<Self> {
        use p256::pkcs8::DecodePrivateKey;
        use rsa::pkcs1::DecodeRsaPrivateKey;
        let pem = std::fs::read_to_string(path).map_err(Error::io(path.display()))?;
        let secret = if let Ok(sk) = ed25519_compact::SecretKey::from_pem(&pem) {
            Secret::Ed25519(ed25519_compact::KeyPair {
                pk: sk.public_key(),
                sk,
            })
        } else if let Ok(sk) = p256::ecdsa::SigningKey::from_pkcs8_pem(&pem) {
            Secret::EcdsaP256(sk)
        } else if let Ok(sk) = p256::SecretKey::from_sec1_pem(&pem) {
            Secret::EcdsaP256(sk.into())
        } else if let Ok(sk) = rsa::RsaPrivateKey::from_pkcs8_pem(&pem)
            .or_else(|_| rsa::RsaPrivateKey::from_pkcs1_pem(&pem))
        {
            Secret::RsaPss(Box::new(rsa::pss::BlindedSigningKey::new(sk)))
        } else {
            return Err(Error::Key(format!(
                "{}: not an unencrypted PEM private key of type ed25519, ecdsa P-256 or RSA",
                path.display()
            )));
        };
        Self::from_secret(secret)
    }

    /// Loads the private key of `public` (a key object of root, listed under `keyid`) from
    /// `path`, checking that it is the same key. Signatures then carry root's key ID.
    pub fn load_for(path: &Path, keyid: &str, public: &Value) -> Result<Self> {
        let mut key = Self::load(path)?;
        if !key.is(public) {
            return Err(Error::Key(format!(
                "{}: this private key is not the online key {keyid} that root lists",
                path.display()
            )));
        }
        key.keyid = keyid.to_string();
        key.public = public.clone();
        Ok(key)
    }

    /// Writes the key as a PKCS#8 PEM file readable only by its owner; an existing file is
    /// never overwritten.
    pub fn save(&self, path: &Path) -> Result<()> {
        use p256::pkcs8::EncodePrivateKey;
        use std::os::unix::fs::OpenOptionsExt;
        let pem = match &self.secret {
            Secret::Ed25519(pair) => pair.sk.to_pem(),
            Secret::EcdsaP256(sk) => sk
                .to_pkcs8_pem(p256::pkcs8::LineEnding::LF)
                .map_err(|e| Error::Key(format!("ecdsa: {e}")))?
                .to_string(),
            Secret::RsaPss(sk) => sk
                .as_ref()
                .as_ref()
                .to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
                .map_err(|e| Error::Key(format!("rsa: {e}")))?
                .to_string(),
        };
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(Error::io(path.display()))?;
        std::io::Write::write_all(&mut f, pem.as_bytes()).map_err(Error::io(path.display()))?;
        f.sync_all().map_err(Error::io(path.display()))
    }

    /// A signature over canonical bytes, as a TUF signature object.
    pub fn sign(&self, canonical_signed: &[u8]) -> Value {
        use rsa::signature::{RandomizedSigner, SignatureEncoding, Signer};
        let sig = match &self.secret {
            Secret::Ed25519(pair) => pair.sk.sign(canonical_signed, None).to_vec(),
            Secret::EcdsaP256(sk) => {
                let sig: p256::ecdsa::DerSignature = sk.sign(canonical_signed);
                sig.to_vec()
            }
            Secret::RsaPss(sk) => sk
                .sign_with_rng(&mut rand_core::OsRng, canonical_signed)
                .to_vec(),
        };
        json!({"keyid": self.keyid, "sig": hex(&sig)})
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_of_each_type_are_saved_once_and_load_as_the_same_key() {
        let dir = tempfile::tempdir().unwrap();
        for (i, kind) in [KeyType::Ed25519, KeyType::Ecdsa, KeyType::Rsa]
            .into_iter()
            .enumerate()
        {
            let key = SigningKey::generate_of(kind).unwrap();
            let path = dir.path().join(format!("k{i}"));
            key.save(&path).unwrap();
            assert!(
                key.save(&path).is_err(),
                "an existing key file is never overwritten"
            );
            let loaded = SigningKey::load(&path).unwrap();
            assert!(
                loaded.is(&key.public) && loaded.keyid == key.keyid,
                "{kind:?}"
            );
            let pub_path = dir.path().join(format!("k{i}.pub"));
            std::fs::write(&pub_path, key.public_pem().unwrap()).unwrap();
            match KeyFile::load(&pub_path).unwrap() {
                KeyFile::Public(p) => assert!(key.is(&p), "{kind:?}"),
                KeyFile::Private(_) => panic!("a public key file read as private"),
            }
        }
    }

    #[test]
    fn keys_of_each_algorithm_sign_what_otuf_core_verifies() {
        use p256::pkcs8::EncodePrivateKey;
        let dir = tempfile::tempdir().unwrap();
        let ec = p256::SecretKey::random(&mut rand_core::OsRng)
            .to_pkcs8_pem(p256::pkcs8::LineEnding::LF)
            .unwrap();
        let rsa_key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048)
            .unwrap()
            .to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
            .unwrap();
        let ed = SigningKey::generate().unwrap();
        ed.save(&dir.path().join("ed")).unwrap();
        std::fs::write(dir.path().join("ec"), ec.as_bytes()).unwrap();
        std::fs::write(dir.path().join("rsa"), rsa_key.as_bytes()).unwrap();
        for name in ["ed", "ec", "rsa"] {
            let key = SigningKey::load(&dir.path().join(name)).unwrap();
            // A one-key root signed by it must verify in the core.
            let role = json!({"keyids": [key.keyid], "threshold": 1});
            let signed = json!({"_type": "root", "spec_version": "1.0.31", "version": 1,
                "expires": "2100-01-01T00:00:00Z", "consistent_snapshot": true,
                "keys": {key.keyid.clone(): key.public.clone()},
                "roles": {"root": role, "timestamp": role, "snapshot": role, "targets": role}});
            let bytes = envelope(&signed, &[&key]).unwrap();
            otuf_core::trusted::TrustedSet::new(
                &bytes,
                otuf_core::time::UnixTime(0),
                otuf_core::limits::Limits::default(),
            )
            .unwrap_or_else(|e| panic!("{name}: {e}"));
            // Loading it for a root key object that is another key is refused.
            let other = SigningKey::generate().unwrap();
            assert!(
                SigningKey::load_for(&dir.path().join(name), &other.keyid, &other.public).is_err()
            );
            assert!(SigningKey::load_for(&dir.path().join(name), &key.keyid, &key.public).is_ok());
        }
    }
}
