//! TLS the application owns, for tests of passthrough and origination: a server outside the
//! mesh with a certificate from a CA of the test's, and a client that checks it.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

/// A CA of the test's own, and the file its root is kept in (for `caCertificates`).
pub struct TestCa {
    pub authority: meshctl::pki::Authority,
    pub root_file: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl TestCa {
    pub fn new() -> TestCa {
        let dir = tempfile::tempdir().unwrap();
        let authority = meshctl::pki::Authority::open(dir.path()).unwrap();
        let root_file = dir.path().join("root.pem");
        std::fs::write(&root_file, authority.trust_bundle()).unwrap();
        TestCa { authority, root_file, _dir: dir }
    }

    /// A server on `ip` presenting a certificate for `names`, answering every HTTP request
    /// over TLS with `answer`. Its thread ends with the test's process.
    pub fn server(&self, ip: IpAddr, names: &[&str], answer: &'static str) -> SocketAddr {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let leaf = self.authority.issue_server(&names, Duration::from_secs(3600)).unwrap();
        let chain = vec![CertificateDer::from_pem_slice(leaf.cert_pem.as_bytes()).unwrap()];
        let key = PrivateKeyDer::from_pem_slice(leaf.key_pem.as_bytes()).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
        let config = Arc::new(config);
        let listener = TcpListener::bind((ip, 0)).unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let config = Arc::clone(&config);
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                    let Ok(connection) = rustls::ServerConnection::new(config) else { return };
                    let mut tls = rustls::StreamOwned::new(connection, stream);
                    if read_head(&mut tls).is_some() {
                        let _ = write!(
                            tls,
                            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                            answer.len()
                        );
                        tls.conn.send_close_notify();
                        let _ = tls.flush();
                    }
                });
            }
        });
        addr
    }

    /// `GET /` over TLS on `stream`, asking for `name` and checking the server's certificate
    /// for it against this CA: the answer's body, or why there is none.
    pub fn get(&self, stream: TcpStream, name: &str) -> Result<String, String> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(CertificateDer::from_pem_slice(self.authority.trust_bundle().as_bytes()).unwrap()).unwrap();
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let server = ServerName::try_from(name.to_string()).map_err(|e| e.to_string())?;
        let connection = rustls::ClientConnection::new(Arc::new(config), server).map_err(|e| e.to_string())?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut tls = rustls::StreamOwned::new(connection, stream);
        write!(tls, "GET / HTTP/1.1\r\nHost: {name}\r\nconnection: close\r\n\r\n").map_err(|e| e.to_string())?;
        let mut answer = Vec::new();
        match tls.read_to_end(&mut answer) {
            Ok(_) => {}
            // A server that closes without close_notify has still said all it had to.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !answer.is_empty() => {}
            Err(e) => return Err(e.to_string()),
        }
        let answer = String::from_utf8_lossy(&answer);
        let (_, body) = answer.split_once("\r\n\r\n").ok_or_else(|| format!("no HTTP answer: {answer:?}"))?;
        Ok(body.to_string())
    }
}

/// An HTTP request's head, read up to its empty line.
fn read_head(stream: &mut impl Read) -> Option<Vec<u8>> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        (stream.read(&mut byte).ok()? == 1).then_some(())?;
        head.push(byte[0]);
    }
    Some(head)
}
