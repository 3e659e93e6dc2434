//! Load results: Falco's error and warning codes, and where each problem is.

use std::fmt;

/// Error codes, exactly as Falco names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    FileRead,
    YamlParse,
    YamlValidate,
    CompileCondition,
    CompileOutput,
    Validate,
    Extension,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::FileRead => "LOAD_ERR_FILE_READ",
            ErrorCode::YamlParse => "LOAD_ERR_YAML_PARSE",
            ErrorCode::YamlValidate => "LOAD_ERR_YAML_VALIDATE",
            ErrorCode::CompileCondition => "LOAD_ERR_COMPILE_CONDITION",
            ErrorCode::CompileOutput => "LOAD_ERR_COMPILE_OUTPUT",
            ErrorCode::Validate => "LOAD_ERR_VALIDATE",
            ErrorCode::Extension => "LOAD_ERR_EXTENSION",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            ErrorCode::FileRead => "File read error",
            ErrorCode::YamlParse => "YAML parse error",
            ErrorCode::YamlValidate => "Error validating internal structure of YAML file",
            ErrorCode::CompileCondition => "Error compiling condition",
            ErrorCode::CompileOutput => "Error compiling output",
            ErrorCode::Validate => "Error validating rule/macro/list/exception objects",
            ErrorCode::Extension => "Error in extension item",
        }
    }
}

/// Warning codes, exactly as Falco names them. `description()` is Falco's short text
/// (`falco_load_result.cpp`, `warning_strings`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WarningCode {
    UnknownSource,
    UnsafeNaCheck,
    NoEvttype,
    UnknownFilter,
    UnusedMacro,
    UnusedList,
    UnknownItem,
    DeprecatedItem,
    WarningExtension,
    AppendNoValues,
    ExceptionNameNotUnique,
    InvalidMacroName,
    InvalidListName,
    CompileCondition,
    UnknownKey,
}

impl WarningCode {
    pub fn as_str(self) -> &'static str {
        match self {
            WarningCode::UnknownSource => "LOAD_UNKNOWN_SOURCE",
            WarningCode::UnsafeNaCheck => "LOAD_UNSAFE_NA_CHECK",
            WarningCode::NoEvttype => "LOAD_NO_EVTTYPE",
            WarningCode::UnknownFilter => "LOAD_UNKNOWN_FILTER",
            WarningCode::UnusedMacro => "LOAD_UNUSED_MACRO",
            WarningCode::UnusedList => "LOAD_UNUSED_LIST",
            WarningCode::UnknownItem => "LOAD_UNKNOWN_ITEM",
            WarningCode::DeprecatedItem => "LOAD_DEPRECATED_ITEM",
            WarningCode::WarningExtension => "LOAD_WARNING_EXTENSION",
            WarningCode::AppendNoValues => "LOAD_APPEND_NO_VALUES",
            WarningCode::ExceptionNameNotUnique => "LOAD_EXCEPTION_NAME_NOT_UNIQUE",
            WarningCode::InvalidMacroName => "LOAD_INVALID_MACRO_NAME",
            WarningCode::InvalidListName => "LOAD_INVALID_LIST_NAME",
            WarningCode::CompileCondition => "LOAD_COMPILE_CONDITION",
            WarningCode::UnknownKey => "LOAD_UNKNOWN_KEY",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            WarningCode::UnknownSource => "Unknown event source",
            WarningCode::UnsafeNaCheck => "Unsafe <NA> comparison in condition",
            WarningCode::NoEvttype => "Condition has no event-type restriction",
            WarningCode::UnknownFilter => "Unknown field or event-type in condition or output",
            WarningCode::UnusedMacro => "Unused macro",
            WarningCode::UnusedList => "Unused list",
            WarningCode::UnknownItem => "Unknown rules file item",
            WarningCode::DeprecatedItem => "Used deprecated item",
            WarningCode::WarningExtension => "Warning in extension item",
            WarningCode::AppendNoValues => "Overriding/appending with no values",
            WarningCode::ExceptionNameNotUnique => "Multiple exceptions defined with the same name",
            WarningCode::InvalidMacroName => "Invalid macro name",
            WarningCode::InvalidListName => "Invalid list name",
            WarningCode::CompileCondition => "Warning in rule condition",
            WarningCode::UnknownKey => "Unknown key in item definition",
        }
    }
}

/// Either kind of code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Code {
    Error(ErrorCode),
    Warning(WarningCode),
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Error(c) => c.as_str(),
            Code::Warning(c) => c.as_str(),
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Code::Error(c) => c.description(),
            Code::Warning(c) => c.description(),
        }
    }
}

/// One level of where a problem is: file, item, sub-item. Line and column are 1-based
/// (Falco prints yaml-cpp's 0-based marks; we print what an editor shows).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// `rules content`, `rule`, `macro`, `list`, `rule condition`, `condition expression`…
    pub item_type: String,
    pub item_name: String,
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub offset: usize,
}

/// An error or warning with its context stack (outermost first).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: Code,
    pub message: String,
    pub context: Vec<Location>,
    /// The offending source line with a caret under the column, when known.
    pub snippet: Option<String>,
}

impl Diagnostic {
    pub fn is_error(&self) -> bool {
        matches!(self.code, Code::Error(_))
    }

    /// The innermost item (rule/macro/list/exception, engine or plugin requirement, or the
    /// file) this is about: `(item_type, item_name)`, as Falco's context names them.
    pub fn item(&self) -> Option<(&str, &str)> {
        self.context
            .iter()
            .rev()
            .find(|l| {
                matches!(
                    l.item_type.as_str(),
                    "rule"
                        | "macro"
                        | "list"
                        | "exception"
                        | "required_engine_version"
                        | "required plugin versions"
                        | "required plugin versions entry"
                        | "rules content"
                        | "rules content item"
                )
            })
            .map(|l| (l.item_type.as_str(), l.item_name.as_str()))
    }

    /// The innermost location.
    pub fn location(&self) -> Option<&Location> {
        self.context.last()
    }
}

impl fmt::Display for Diagnostic {
    /// `file:line:col: rule 'name': CODE (description): message`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(loc) = self.location() {
            write!(f, "{}:{}:{}: ", loc.file, loc.line, loc.column)?;
        }
        if let Some((kind, name)) = self.item() {
            if !name.is_empty() {
                write!(f, "{kind} '{name}': ")?;
            }
        }
        write!(
            f,
            "{} ({}): {}",
            self.code.as_str(),
            self.code.description(),
            self.message
        )
    }
}
