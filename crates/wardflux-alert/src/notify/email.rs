//! E-mail through lettre's async SMTP transport (plain, STARTTLS or implicit TLS, optional
//! AUTH). The idempotency key becomes the Message-ID, which mail systems dedupe on.

use std::time::Duration;

use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde_json::Value;
use wardflux_model::inventory::FieldError;

use super::{Message, SendError, field, get_str, req_str};

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    None,
    StartTls,
    Tls,
}

#[derive(Debug, Clone)]
pub struct EmailConfig {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub username: Option<String>,
    pub password: Option<String>,
    pub from: Mailbox,
    pub to: Vec<Mailbox>,
    /// Extra trusted root (PEM), for servers with a private CA.
    pub ca_cert: Option<String>,
}

const KNOWN: &[&str] = &[
    "host", "port", "tls", "username", "password", "from", "to", "ca_cert",
];

impl EmailConfig {
    pub(super) fn parse(cfg: &serde_json::Map<String, Value>) -> Result<Self, FieldError> {
        if let Some(k) = cfg.keys().find(|k| !KNOWN.contains(&k.as_str())) {
            return Err(field(
                k,
                format!("unknown setting; expected {}", KNOWN.join(", ")),
            ));
        }
        let host = req_str(cfg, "host")?.trim().to_string();
        let tls = match get_str(cfg, "tls")?.unwrap_or("starttls") {
            "none" => TlsMode::None,
            "starttls" => TlsMode::StartTls,
            "tls" => TlsMode::Tls,
            _ => return Err(field("tls", "must be none, starttls or tls")),
        };
        let port = match cfg.get("port") {
            None | Some(Value::Null) => match tls {
                TlsMode::Tls => 465,
                TlsMode::StartTls => 587,
                TlsMode::None => 25,
            },
            Some(Value::Number(n)) => n
                .as_u64()
                .filter(|p| (1..=65535).contains(p))
                .and_then(|p| u16::try_from(p).ok())
                .ok_or_else(|| field("port", "must be between 1 and 65535"))?,
            Some(_) => return Err(field("port", "must be a number between 1 and 65535")),
        };
        let username = get_str(cfg, "username")?.map(str::to_string);
        let password = get_str(cfg, "password")?.map(str::to_string);
        if username.is_some() != password.is_some() {
            return Err(field(
                if username.is_some() {
                    "password"
                } else {
                    "username"
                },
                "username and password go together",
            ));
        }
        let from = req_str(cfg, "from")?
            .parse::<Mailbox>()
            .map_err(|e| field("from", format!("not an e-mail address: {e}")))?;
        let to = match cfg.get("to") {
            Some(Value::Array(a)) if !a.is_empty() => a
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    v.as_str()
                        .ok_or_else(|| field(&format!("to[{i}]"), "must be a string"))?
                        .parse::<Mailbox>()
                        .map_err(|e| {
                            field(&format!("to[{i}]"), format!("not an e-mail address: {e}"))
                        })
                })
                .collect::<Result<Vec<_>, _>>()?,
            Some(Value::String(s)) => vec![
                s.parse::<Mailbox>()
                    .map_err(|e| field("to", format!("not an e-mail address: {e}")))?,
            ],
            _ => return Err(field("to", "is required: a list of e-mail addresses")),
        };
        let ca_cert = get_str(cfg, "ca_cert")?.map(str::to_string);
        if let Some(pem) = &ca_cert {
            Certificate::from_pem(pem.as_bytes())
                .map_err(|e| field("ca_cert", format!("not a PEM certificate: {e}")))?;
        }
        Ok(Self {
            host,
            port,
            tls,
            username,
            password,
            from,
            to,
            ca_cert,
        })
    }

    fn transport(
        &self,
        timeout: Duration,
    ) -> Result<AsyncSmtpTransport<Tokio1Executor>, SendError> {
        let params = || -> Result<TlsParameters, SendError> {
            let mut b = TlsParameters::builder(self.host.clone());
            if let Some(pem) = &self.ca_cert {
                let c = Certificate::from_pem(pem.as_bytes())
                    .map_err(|e| SendError::permanent(format!("ca_cert: {e}")))?;
                b = b.add_root_certificate(c);
            }
            b.build_rustls()
                .map_err(|e| SendError::permanent(format!("TLS setup: {e}")))
        };
        let tls = match self.tls {
            TlsMode::None => Tls::None,
            TlsMode::StartTls => Tls::Required(params()?),
            TlsMode::Tls => Tls::Wrapper(params()?),
        };
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(self.host.clone())
            .port(self.port)
            .tls(tls)
            .timeout(Some(timeout));
        if let (Some(u), Some(p)) = (&self.username, &self.password) {
            b = b.credentials(Credentials::new(u.clone(), p.clone()));
        }
        Ok(b.build())
    }

    pub(super) async fn send(&self, msg: &Message, timeout: Duration) -> Result<(), SendError> {
        let mut b = lettre::Message::builder()
            .from(self.from.clone())
            .subject(msg.title())
            .message_id(Some(format!("<{}@wardflux>", msg.idempotency_key)))
            .header(ContentType::TEXT_PLAIN);
        for to in &self.to {
            b = b.to(to.clone());
        }
        let mail = b
            .body(msg.text())
            .map_err(|e| SendError::permanent(format!("building the mail: {e}")))?;
        self.transport(timeout)?
            .send(mail)
            .await
            .map(|_| ())
            .map_err(|e| {
                let text = format!("SMTP {}:{}: {e}", self.host, self.port);
                if e.is_permanent() {
                    SendError::permanent(text)
                } else {
                    SendError::retryable(text)
                }
            })
    }
}
