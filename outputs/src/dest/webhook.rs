//! falcosidekick's webhook: each alert as falcosidekick's JSON event, one request per alert,
//! `Content-Type: application/json; charset=utf-8`, `User-Agent: Falcosidekick`, plus the
//! configured custom headers.

use crate::client;
use crate::record::{go_json_body, Record, SidekickEvent};
use crate::worker::{Deliver, DeliveryError};
use peregrine_config::HttpMethod;
use std::sync::Arc;

pub struct Webhook {
    pub client: awc::Client,
    pub address: String,
    pub method: HttpMethod,
    pub headers: Vec<(String, String)>,
    pub customfields: Arc<[(String, String)]>,
}

/// The body falcosidekick's webhook sends for one alert (Go's JSON and a newline).
pub fn body(rec: &Record, customfields: &[(String, String)]) -> Vec<u8> {
    go_json_body(&SidekickEvent::new(rec, customfields))
}

impl Deliver for Webhook {
    fn per_request(&self) -> Option<usize> {
        Some(1)
    }

    async fn deliver(&mut self, batch: &[Arc<Record>]) -> Result<usize, DeliveryError> {
        let body = body(&batch[0], &self.customfields);
        let mut req = match self.method {
            HttpMethod::Post => self.client.post(&self.address),
            HttpMethod::Put => self.client.put(&self.address),
        };
        req = req
            .insert_header(("Content-Type", "application/json; charset=utf-8"))
            .insert_header(("User-Agent", "Falcosidekick"));
        for (k, v) in &self.headers {
            req = req.insert_header((k.as_str(), v.as_str()));
        }
        client::send(req, body).await?;
        Ok(1)
    }
}
