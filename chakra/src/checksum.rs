//! Hashing: migration checksums and short stable identifiers (the history's hash chain is in
//! `executor::audit`).
//!
//! A migration's checksum is the SHA-256 of its canonical form: the parsed migration written as
//! compact JSON in the field order of the types in [`crate::format`]. Comments, key order,
//! whitespace, CRLF line ends and a byte-order mark do not reach the parsed value, so they do
//! not change the checksum; any change of meaning does. JSON rather than TOML is used so that
//! an upgrade of the TOML library cannot change the checksums of applied migrations.
//!
//! # Examples
//!
//! ```
//! use chakra::checksum::{sha256_hex, short_identifier};
//!
//! assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
//!
//! // A name that fits is kept; a longer one is cut and given a stable hash suffix.
//! assert_eq!(short_identifier("users_email_idx", 63), "users_email_idx");
//! let long = format!("{}_idx", "very_long_table_name_".repeat(4));
//! let short = short_identifier(&long, 63);
//! assert_eq!(short.len(), 63);
//! assert!(short.starts_with("very_long_table_name_very_long"));
//! assert_eq!(short, short_identifier(&long, 63));
//! ```

use sha2::{Digest, Sha256};

/// Lowercase hex SHA-256 of `bytes` (64 characters).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 0xf) as usize] as char);
    }
    out
}

/// Returns `name` if it fits in `max` bytes, otherwise a prefix of it followed by `_` and
/// eight hex digits of its hash, so that long generated names stay unique and stable.
pub fn short_identifier(name: &str, max: usize) -> String {
    if name.len() <= max {
        return name.to_owned();
    }
    let digest = sha256_hex(name.as_bytes());
    let mut cut = max - 9;
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}_{}", &name[..cut], &digest[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_empty_input_is_the_known_value() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn short_identifier_keeps_short_names_and_shortens_long_ones_stably() {
        assert_eq!(short_identifier("users_email_idx", 63), "users_email_idx");
        let long = "a".repeat(80);
        let s = short_identifier(&long, 63);
        assert_eq!(s.len(), 63);
        assert_eq!(s, short_identifier(&long, 63));
        assert_ne!(s, short_identifier(&"a".repeat(81), 63));
    }
}
