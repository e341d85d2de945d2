//! Ed25519 signing keys as small text files: a one-line label, then the 32 key bytes in hex.

use super::{BundleError, hex};
use ed25519_dalek::{SigningKey, VerifyingKey};
use sha2::Digest;

/// First line of a secret key file.
const SECRET_LABEL: &str = "whittle ed25519 secret key";
/// First line of a public key file.
const PUBLIC_LABEL: &str = "whittle ed25519 public key";

/// A fresh signing key from the operating system's random source.
pub fn generate() -> Result<SigningKey, BundleError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| BundleError::Random(e.to_string()))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// The text of a secret key file.
pub fn secret_key_text(key: &SigningKey) -> String {
    format!("{SECRET_LABEL}\n{}\n", hex(&key.to_bytes()))
}

/// The text of a public key file.
pub fn public_key_text(key: &VerifyingKey) -> String {
    format!("{PUBLIC_LABEL}\n{}\n", hex(key.as_bytes()))
}

/// Short identifier of a public key: the first 8 bytes of its SHA-256, in hex. The manifest's
/// signature names it so a station can tell which key a bundle expects.
pub fn key_id(key: &VerifyingKey) -> String {
    hex(&sha2::Sha256::digest(key.as_bytes())[..8])
}

/// Reads a secret key file's text; `what` names the file in errors.
pub fn parse_secret(text: &str, what: &str) -> Result<SigningKey, BundleError> {
    let bytes = key_bytes(text, SECRET_LABEL, what)?;
    Ok(SigningKey::from_bytes(&bytes))
}

/// Reads a public key file's text; `what` names the file in errors.
pub fn parse_public(text: &str, what: &str) -> Result<VerifyingKey, BundleError> {
    let bytes = key_bytes(text, PUBLIC_LABEL, what)?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| BundleError::Key {
        path: what.to_string(),
        reason: "the 32 bytes are not a valid Ed25519 public key".into(),
    })
}

fn key_bytes(text: &str, label: &str, what: &str) -> Result<[u8; 32], BundleError> {
    let bad = |reason: String| BundleError::Key {
        path: what.to_string(),
        reason,
    };
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default().trim();
    if first != label {
        let other = if label == SECRET_LABEL {
            PUBLIC_LABEL
        } else {
            SECRET_LABEL
        };
        return Err(bad(if first == other {
            format!("this is a {other} file; expected a {label} file")
        } else {
            format!("the first line must be '{label}'")
        }));
    }
    let hex_line = lines.next().unwrap_or_default().trim();
    let bytes =
        unhex(hex_line).ok_or_else(|| bad("the second line must be 64 hex digits".into()))?;
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| bad(format!("expected 32 key bytes, found {}", bytes.len())))
}

/// Decodes lowercase or uppercase hex; `None` on an odd length or a non-hex digit.
pub(crate) fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_round_trip_and_are_not_interchangeable() {
        let key = generate().expect("random");
        let secret = secret_key_text(&key);
        let public = public_key_text(&key.verifying_key());
        assert_eq!(
            parse_secret(&secret, "k").expect("secret").to_bytes(),
            key.to_bytes()
        );
        assert_eq!(
            parse_public(&public, "p").expect("public"),
            key.verifying_key()
        );
        let err = parse_public(&secret, "whittle.key")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("whittle.key") && err.contains("secret key file"),
            "{err}"
        );
        assert!(parse_secret("whittle ed25519 secret key\nabc\n", "k").is_err());
    }

    #[test]
    fn two_keys_differ() {
        let (a, b) = (generate().expect("a"), generate().expect("b"));
        assert_ne!(a.to_bytes(), b.to_bytes());
        assert_ne!(key_id(&a.verifying_key()), key_id(&b.verifying_key()));
    }
}
