//! The subset of Go templates that falcosidekick users write in `messageformat`:
//! literal text with `{{ .Rule }}`, `{{ .Priority }}`, `{{ .Output }}`, `{{ .Source }}`,
//! `{{ .Hostname }}`, `{{ .Time }}`, `{{ .UUID }}`, `{{ .Tags }}` and
//! `{{ index .OutputFields "field.name" }}` (with `{{-`/`-}}` trimming). Anything else is
//! rejected when the configuration loads, not when the first alert is sent.

/// A parsed template: literal text and the alert values between it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageTemplate {
    pub parts: Vec<TemplatePart>,
}

/// One piece of a [`MessageTemplate`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TemplatePart {
    Text(String),
    Rule,
    Priority,
    Output,
    Source,
    Hostname,
    /// Go's `time.Time.String()` of the event time.
    Time,
    Uuid,
    /// Go's rendering of a string slice: `[a b c]`.
    Tags,
    /// One output field; `<no value>` when absent, as Go prints it.
    OutputField(String),
}

impl MessageTemplate {
    /// Parses `text`; the error says what is wrong and where (byte offset).
    pub fn parse(text: &str) -> Result<MessageTemplate, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        let mut offset = 0;
        let mut trim_next = false;
        while let Some(open) = rest.find("{{") {
            let mut literal = &rest[..open];
            if trim_next {
                literal = literal.trim_start();
            }
            let inner_start = open + 2;
            let Some(close) = rest[inner_start..].find("}}") else {
                return Err(format!(
                    "`{{{{` at offset {} is never closed",
                    offset + open
                ));
            };
            let mut action = &rest[inner_start..inner_start + close];
            if let Some(a) = action.strip_prefix('-') {
                literal = literal.trim_end();
                action = a;
            }
            trim_next = false;
            if let Some(a) = action.strip_suffix('-') {
                trim_next = true;
                action = a;
            }
            if !literal.is_empty() {
                parts.push(TemplatePart::Text(literal.to_string()));
            }
            parts.push(Self::action(action.trim(), offset + open)?);
            let consumed = inner_start + close + 2;
            rest = &rest[consumed..];
            offset += consumed;
        }
        let literal = if trim_next { rest.trim_start() } else { rest };
        if !literal.is_empty() {
            parts.push(TemplatePart::Text(literal.to_string()));
        }
        Ok(MessageTemplate { parts })
    }

    fn action(action: &str, at: usize) -> Result<TemplatePart, String> {
        Ok(match action {
            ".Rule" => TemplatePart::Rule,
            ".Priority" => TemplatePart::Priority,
            ".Output" => TemplatePart::Output,
            ".Source" => TemplatePart::Source,
            ".Hostname" => TemplatePart::Hostname,
            ".Time" => TemplatePart::Time,
            ".UUID" => TemplatePart::Uuid,
            ".Tags" => TemplatePart::Tags,
            _ => {
                let words: Vec<&str> = action.split_whitespace().collect();
                match words.as_slice() {
                    ["index", ".OutputFields", key]
                        if key.len() >= 2 && key.starts_with('"') && key.ends_with('"') =>
                    {
                        TemplatePart::OutputField(key[1..key.len() - 1].to_string())
                    }
                    _ => {
                        return Err(format!(
                            "unsupported action `{{{{{action}}}}}` at offset {at}: use .Rule, .Priority, \
                             .Output, .Source, .Hostname, .Time, .UUID, .Tags or index .OutputFields \"name\""
                        ))
                    }
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_supported_actions_and_rejects_others() {
        let t = MessageTemplate::parse(
            "Alert: *{{ .Rule }}* ({{.Priority}}) by {{ index .OutputFields \"user.name\" }}  {{- \" \" -}}",
        );
        assert!(t.is_err(), "a string literal action is not supported");
        let t = MessageTemplate::parse(
            "Alert: *{{ .Rule }}* by {{ index .OutputFields \"user.name\" }} {{- .Tags }}",
        )
        .unwrap();
        assert_eq!(
            t.parts,
            vec![
                TemplatePart::Text("Alert: *".into()),
                TemplatePart::Rule,
                TemplatePart::Text("* by ".into()),
                TemplatePart::OutputField("user.name".into()),
                TemplatePart::Tags,
            ]
        );
        assert!(MessageTemplate::parse("{{ .Rule ")
            .unwrap_err()
            .contains("never closed"));
        assert!(MessageTemplate::parse("x {{ printf \"%s\" .Rule }}")
            .unwrap_err()
            .contains("offset 2"));
    }
}
