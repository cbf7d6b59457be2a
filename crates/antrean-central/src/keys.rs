//! The central service's signing keys: Ed25519 seeds in a key directory
//! (one `<kid>.key` file each, mode 0600, base64url seed), an `active` file
//! naming the key that signs new tokens. Older keys stay published so that
//! tokens they signed keep verifying after a rotation. A key file that
//! group or others may read is refused at load, with a `chmod 600` hint.

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};

use antrean_core::manifest::ManifestKey;

/// A key directory problem.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    #[error(
        "key directory {dir}: {reason}. Create keys with `antrean-central keygen --key-dir {dir}`."
    )]
    Dir { dir: PathBuf, reason: String },
    #[error("key file {path} is damaged: {reason}")]
    Damaged { path: PathBuf, reason: String },
    #[error("key id {0:?} must be 1-32 letters, digits or dashes")]
    BadKid(String),
    #[error("key file {path} can be read by other users (mode {mode:o}); refusing to use it. Fix it with: chmod 600 {path}")]
    Open { path: PathBuf, mode: u32 },
}

/// The keys of a key directory.
#[derive(Clone)]
pub struct KeyStore {
    active: (String, SigningKey),
    all: Vec<(String, SigningKey)>,
}

fn valid_kid(kid: &str) -> bool {
    (1..=32).contains(&kid.len())
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl KeyStore {
    /// Creates a new key `kid` in `dir` and makes it the active one.
    pub fn generate(dir: &Path, kid: &str) -> Result<String, KeyError> {
        if !valid_kid(kid) {
            return Err(KeyError::BadKid(kid.to_string()));
        }
        let err = |e: std::io::Error| KeyError::Dir {
            dir: dir.to_path_buf(),
            reason: e.to_string(),
        };
        antrean_host::state_dir::create_private_dir(dir).map_err(err)?;
        let path = dir.join(format!("{kid}.key"));
        if path.exists() {
            return Err(KeyError::Dir {
                dir: dir.to_path_buf(),
                reason: format!("key {kid} exists already; choose another --kid"),
            });
        }
        let mut seed = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut seed);
        antrean_host::state_dir::write_private(&path, URL_SAFE_NO_PAD.encode(seed).as_bytes())
            .map_err(err)?;
        antrean_host::state_dir::write_private(&dir.join("active"), kid.as_bytes()).map_err(err)?;
        let key = SigningKey::from_bytes(&seed);
        Ok(URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes()))
    }

    /// Loads every key of `dir`; the active one signs.
    pub fn load(dir: &Path) -> Result<KeyStore, KeyError> {
        let fail = |reason: String| KeyError::Dir {
            dir: dir.to_path_buf(),
            reason,
        };
        let active = std::fs::read_to_string(dir.join("active"))
            .map_err(|e| fail(format!("no active key ({e})")))?
            .trim()
            .to_string();
        let mut all = Vec::new();
        let entries = std::fs::read_dir(dir).map_err(|e| fail(e.to_string()))?;
        for entry in entries.flatten() {
            let path = entry.path();
            let Some(kid) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".key"))
                .map(str::to_string)
            else {
                continue;
            };
            let mode = std::fs::metadata(&path)
                .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777)
                .map_err(|e| KeyError::Damaged {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
            if mode & 0o077 != 0 {
                return Err(KeyError::Open { path, mode });
            }
            let text = std::fs::read_to_string(&path).map_err(|e| KeyError::Damaged {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            let seed: [u8; 32] = URL_SAFE_NO_PAD
                .decode(text.trim())
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| KeyError::Damaged {
                    path: path.clone(),
                    reason: "not a base64url 32-byte seed".into(),
                })?;
            all.push((kid, SigningKey::from_bytes(&seed)));
        }
        all.sort_by(|a, b| a.0.cmp(&b.0));
        let key = all
            .iter()
            .find(|(k, _)| *k == active)
            .cloned()
            .ok_or_else(|| fail(format!("the active key {active} has no {active}.key file")))?;
        Ok(KeyStore { active: key, all })
    }

    /// A store with one in-memory key (embedded demo mode, tests).
    pub fn ephemeral(kid: &str) -> KeyStore {
        let mut seed = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut seed);
        KeyStore::from_seed(kid, seed)
    }

    /// A store with one key from a known seed (tests).
    pub fn from_seed(kid: &str, seed: [u8; 32]) -> KeyStore {
        let key = (kid.to_string(), SigningKey::from_bytes(&seed));
        KeyStore {
            active: key.clone(),
            all: vec![key],
        }
    }

    /// Every public key, for the manifest.
    pub fn published(&self) -> Vec<ManifestKey> {
        self.all
            .iter()
            .map(|(kid, k)| ManifestKey {
                kid: kid.clone(),
                public_key: URL_SAFE_NO_PAD.encode(k.verifying_key().to_bytes()),
            })
            .collect()
    }

    pub fn active_kid(&self) -> &str {
        &self.active.0
    }

    /// Signs a token payload: `AQ1.<payload>.<signature>`.
    pub fn sign_token(&self, payload: &serde_json::Value) -> String {
        let body = serde_json::to_vec(payload).expect("a JSON value serialises");
        let signed = format!("AQ1.{}", URL_SAFE_NO_PAD.encode(body));
        let sig = self.active.1.sign(signed.as_bytes());
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keygen_rotation_keeps_old_keys_published() {
        let dir = tempfile::tempdir().unwrap();
        let k = dir.path().join("keys");
        KeyStore::generate(&k, "k2026a").unwrap();
        KeyStore::generate(&k, "k2026b").unwrap();
        assert!(KeyStore::generate(&k, "k2026b").is_err(), "no overwrite");
        assert!(KeyStore::generate(&k, "bad kid!").is_err());
        let store = KeyStore::load(&k).unwrap();
        assert_eq!(store.active_kid(), "k2026b");
        let kids: Vec<String> = store.published().into_iter().map(|k| k.kid).collect();
        assert_eq!(kids, vec!["k2026a", "k2026b"]);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(k.join("k2026a.key"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
    }
}
