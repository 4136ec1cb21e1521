//! TLS certificate and key for the TLS listener: loaded from the configured paths, or generated
//! self-signed for `localhost` and saved there when missing.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};

/// Errors preparing the TLS listener's certificate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CertError {
    /// A configured file exists but cannot be read or is not valid PEM.
    #[error("cannot load TLS {what} {path}: {reason}")]
    Load {
        /// `certificate` or `key`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Only one of the two files exists; generating would overwrite the other.
    #[error(
        "TLS {present} {present_path} exists but {missing} {missing_path} does not; refusing to generate over it"
    )]
    HalfPresent {
        /// The file that exists.
        present: &'static str,
        /// Its path.
        present_path: PathBuf,
        /// The file that is missing.
        missing: &'static str,
        /// Its path.
        missing_path: PathBuf,
    },
    /// A self-signed certificate could not be generated.
    #[error("cannot generate a self-signed TLS certificate: {0}")]
    Generate(String),
    /// rustls refused the certificate/key pair.
    #[error("TLS certificate and key do not form a usable pair: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Where the certificate came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertSource {
    /// Both files existed.
    Loaded,
    /// Generated and saved at the configured paths.
    GeneratedAndSaved,
    /// Generated, but the files could not be written: this certificate lives only in memory and
    /// changes on every start.
    GeneratedInMemory {
        /// Why saving failed.
        reason: String,
    },
}

/// Builds the TLS server configuration from `cert_path` and `key_path`, generating a self-signed
/// `localhost` certificate at those paths when both are missing.
///
/// # Errors
/// [`CertError`] when existing files are unreadable or invalid (never when they merely cannot
/// be written: then the certificate is kept in memory and [`CertSource::GeneratedInMemory`] says so).
pub fn load_or_generate(
    cert_path: &Path,
    key_path: &Path,
) -> Result<(Arc<ServerConfig>, CertSource), CertError> {
    let (certs, key, source) = match (cert_path.exists(), key_path.exists()) {
        (true, true) => {
            let (certs, key) = load(cert_path, key_path)?;
            (certs, key, CertSource::Loaded)
        }
        (false, false) => generate(cert_path, key_path)?,
        (true, false) => {
            return Err(CertError::HalfPresent {
                present: "certificate",
                present_path: cert_path.to_owned(),
                missing: "key",
                missing_path: key_path.to_owned(),
            });
        }
        (false, true) => {
            return Err(CertError::HalfPresent {
                present: "key",
                present_path: key_path.to_owned(),
                missing: "certificate",
                missing_path: cert_path.to_owned(),
            });
        }
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    Ok((Arc::new(config), source))
}

type CertAndKey = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

fn load(cert_path: &Path, key_path: &Path) -> Result<CertAndKey, CertError> {
    let load_error = |what, path: &Path, reason: String| CertError::Load {
        what,
        path: path.to_owned(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(cert_path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|error| load_error("certificate", cert_path, error.to_string()))?;
    if certs.is_empty() {
        return Err(load_error(
            "certificate",
            cert_path,
            "no certificate in file".to_owned(),
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key_path)
        .map_err(|error| load_error("key", key_path, error.to_string()))?;
    Ok((certs, key))
}

fn generate(
    cert_path: &Path,
    key_path: &Path,
) -> Result<
    (
        Vec<CertificateDer<'static>>,
        PrivateKeyDer<'static>,
        CertSource,
    ),
    CertError,
> {
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
        .map_err(|error| CertError::Generate(error.to_string()))?;
    let cert_pem = generated.cert.pem();
    let key_pem = generated.signing_key.serialize_pem();
    let source = match save(cert_path, &cert_pem, key_path, &key_pem) {
        Ok(()) => CertSource::GeneratedAndSaved,
        Err(reason) => CertSource::GeneratedInMemory { reason },
    };
    let cert = CertificateDer::from(generated.cert.der().to_vec());
    let key = PrivateKeyDer::try_from(generated.signing_key.serialize_der())
        .map_err(|error| CertError::Generate(error.to_owned()))?;
    Ok((vec![cert], key, source))
}

/// Writes the key (mode 0600) then the certificate; on failure removes what it wrote.
fn save(cert_path: &Path, cert_pem: &str, key_path: &Path, key_pem: &str) -> Result<(), String> {
    write_new(key_path, key_pem, 0o600)
        .map_err(|error| format!("{}: {error}", key_path.display()))?;
    if let Err(error) = write_new(cert_path, cert_pem, 0o644) {
        let _ = std::fs::remove_file(key_path);
        return Err(format!("{}: {error}", cert_path.display()));
    }
    Ok(())
}

/// Creates `path` (a symbolic link's target, when it is one) with `mode`, never over a file.
fn write_new(path: &Path, contents: &str, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = crate::store::sidecar::resolve_symlinks(path)?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_files_are_generated_at_the_configured_paths_then_reloaded() {
        let dir = tempfile::tempdir().expect("temp dir");
        let cert = dir.path().join("sub-cert.pem");
        let key = dir.path().join("sub-key.pem");
        let (_, source) = load_or_generate(&cert, &key).expect("generated");
        assert_eq!(source, CertSource::GeneratedAndSaved);
        assert!(cert.exists() && key.exists());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key)
            .expect("key metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let (_, again) = load_or_generate(&cert, &key).expect("reloaded");
        assert_eq!(again, CertSource::Loaded);
    }

    #[test]
    fn unwritable_location_keeps_an_in_memory_certificate() {
        let dir = tempfile::tempdir().expect("temp dir");
        let missing_dir = dir.path().join("does-not-exist");
        let (_, source) = load_or_generate(&missing_dir.join("c.pem"), &missing_dir.join("k.pem"))
            .expect("usable");
        assert!(
            matches!(source, CertSource::GeneratedInMemory { .. }),
            "{source:?}"
        );
    }

    #[test]
    fn garbage_certificate_is_a_clear_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        let cert = dir.path().join("c.pem");
        let key = dir.path().join("k.pem");
        std::fs::write(&cert, "not pem").expect("write");
        std::fs::write(&key, "not pem").expect("write");
        let error = load_or_generate(&cert, &key).expect_err("garbage rejected");
        assert!(error.to_string().contains("c.pem"), "{error}");
    }

    #[test]
    fn half_present_pair_is_not_overwritten() {
        let dir = tempfile::tempdir().expect("temp dir");
        let cert = dir.path().join("c.pem");
        std::fs::write(&cert, "keep me").expect("write");
        let error = load_or_generate(&cert, &dir.path().join("k.pem")).expect_err("refused");
        assert!(matches!(error, CertError::HalfPresent { .. }));
        assert_eq!(std::fs::read_to_string(&cert).expect("read"), "keep me");
    }
}
