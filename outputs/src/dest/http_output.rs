//! Falco's `http_output`: each alert POSTed on its own, the body being the alert line
//! (Falco's JSON when `json_output`, else the text line), `Content-Type: application/json`
//! or `text/plain`, `User-Agent` from `http_output.user_agent`.

use super::line::LineFormat;
use crate::client;
use crate::record::Record;
use crate::worker::{Deliver, DeliveryError};
use std::sync::Arc;

pub struct HttpOutput {
    pub client: awc::Client,
    pub url: String,
    pub user_agent: String,
    pub format: LineFormat,
    /// Log the receiver's answer (`http_output.echo`).
    pub echo: bool,
}

impl HttpOutput {
    pub fn content_type(&self) -> &'static str {
        match self.format {
            LineFormat::Json(_) => "application/json",
            LineFormat::Text => "text/plain",
        }
    }
}

impl Deliver for HttpOutput {
    fn per_request(&self) -> Option<usize> {
        Some(1)
    }

    async fn deliver(&mut self, batch: &[Arc<Record>]) -> Result<usize, DeliveryError> {
        let mut body = Vec::new();
        self.format.render(&batch[0].alert, &mut body);
        body.pop(); // no trailing newline: Falco posts the line itself
        let req = self
            .client
            .post(&self.url)
            .insert_header(("Content-Type", self.content_type()))
            .insert_header(("User-Agent", self.user_agent.as_str()));
        let answer = client::send(req, body).await?;
        if self.echo {
            tracing::info!(
                destination = "http",
                "response: {}",
                String::from_utf8_lossy(&answer)
            );
        }
        Ok(1)
    }
}
