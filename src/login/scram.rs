//! The SCRAM-SHA-256 verifier PostgreSQL stores for a password (RFC 5802,
//! RFC 7677), computed here as psql's `\password` does, so that the
//! password itself never travels in SQL text nor lands in a server log.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

/// PostgreSQL's default `scram_iterations`.
const ITERATIONS: u32 = 4096;

/// `SCRAM-SHA-256$4096:<salt>$<StoredKey>:<ServerKey>` for `password`
/// with this 16-byte salt.
pub fn verifier(password: &str, salt: &[u8; 16]) -> String {
    let salted = pbkdf2(password.as_bytes(), salt, ITERATIONS);
    let client_key = hmac(&salted, b"Client Key");
    let stored_key: [u8; 32] = Sha256::digest(client_key).into();
    let server_key = hmac(&salted, b"Server Key");
    format!(
        "SCRAM-SHA-256${ITERATIONS}:{}${}:{}",
        STANDARD.encode(salt),
        STANDARD.encode(stored_key),
        STANDARD.encode(server_key)
    )
}

/// HMAC-SHA-256 (RFC 2104): a key longer than the block is hashed first.
fn hmac(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |b: u8| block.map(|k| k ^ b);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(msg)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// PBKDF2-HMAC-SHA-256 for one 32-byte block: SCRAM's `Hi()`.
fn pbkdf2(password: &[u8], salt: &[u8], rounds: u32) -> [u8; 32] {
    let mut first = salt.to_vec();
    first.extend_from_slice(&1u32.to_be_bytes());
    let mut u = hmac(password, &first);
    let mut out = u;
    for _ in 1..rounds {
        u = hmac(password, &u);
        out.iter_mut().zip(u).for_each(|(o, x)| *o ^= x);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_test_case_2() {
        let mac = hmac(b"Jefe", b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn pbkdf2_matches_the_published_sha256_vector() {
        // RFC 7914 §11: PBKDF2-HMAC-SHA256, P="passwd", S="salt", c=1
        let key = pbkdf2(b"passwd", b"salt", 1);
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        assert!(hex.starts_with("55ac046e56e3089fec1691c22544b605"), "{hex}");
    }
}
