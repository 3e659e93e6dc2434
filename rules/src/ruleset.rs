//! The compiled ruleset: rules indexed by event type, evaluated over a shared per-event
//! field cache, and turned into alerts.

use crate::alert::{Alert, AlertOptions};
use crate::eval::guard::{MemoWidths, TypeIndex};
use crate::eval::{Ctx, EvtSet, Node, Scratch, SlotDef};
use crate::format::OutputFormat;
use crate::priority::Priority;
use crate::timefmt;
use peregrine_event::{Event, EventType};
use serde_json::Map;
use std::sync::Arc;

/// One compiled rule.
#[derive(Debug)]
pub struct CompiledRule {
    pub name: Arc<str>,
    pub desc: String,
    pub priority: Priority,
    pub source: Arc<str>,
    /// Sorted, as Falco prints them.
    pub tags: Arc<[String]>,
    pub enabled: bool,
    pub evttypes: EvtSet,
    /// Every field the condition (macros and exceptions included) and the output read,
    /// by canonical name (`proc.aname[2]`, `evt.arg.flags`), sorted.
    pub fields: Arc<[crate::fields::Field]>,
    pub(crate) condition: Node,
    pub(crate) output: OutputFormat,
}

/// A field enabled rules read that has no source yet ([`crate::fields::FieldDef::no_source`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnsourcedField {
    /// As the rules write it (`fd.sip.name`).
    pub field: String,
    pub reason: &'static str,
    /// The enabled rules that read it, in definition order.
    pub rules: Vec<Arc<str>>,
}

/// Falco's `rule_matching`: stop at the first matching rule, or report every match.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RuleMatching {
    #[default]
    First,
    All,
}

/// A ruleset ready to evaluate. Immutable once built; share it with `Arc` across shards.
#[derive(Debug)]
pub struct Ruleset {
    rules: Vec<CompiledRule>,
    pub(crate) slots: Vec<SlotDef>,
    /// Cache slots for subexpressions shared between rules.
    memos: usize,
    /// Enabled rules per event type (by [`EventType::index`]), in definition order, with
    /// the prefilter that picks which of them to evaluate.
    by_type: Vec<TypeIndex>,
    /// Per prefilter group with path or process lookups or socket tests, how many results
    /// its memo tables keep.
    memo_widths: MemoWidths,
    /// Tells scratches filled for another index (another ruleset, or rules enabled since)
    /// to drop their path memos: unique per index built in this process.
    layout: u64,
}

/// The next [`Ruleset::layout`]; 0 is no layout.
static LAYOUTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl Ruleset {
    pub(crate) fn new(mut rules: Vec<CompiledRule>, slots: Vec<SlotDef>) -> Ruleset {
        let mut roots: Vec<&mut Node> = rules.iter_mut().map(|r| &mut r.condition).collect();
        let memos = crate::eval::memo::share_subexpressions(&mut roots);
        let mut rs = Ruleset {
            rules,
            slots,
            memos,
            by_type: Vec::new(),
            memo_widths: MemoWidths::default(),
            layout: 0,
        };
        rs.reindex();
        rs
    }

    fn reindex(&mut self) {
        let mut by_type: Vec<Vec<u32>> = vec![Vec::new(); EventType::count()];
        for (i, r) in self.rules.iter().enumerate().filter(|(_, r)| r.enabled) {
            for t in r.evttypes.iter() {
                by_type[t.index()].push(i as u32);
            }
        }
        let mut widths = MemoWidths::default();
        self.by_type = by_type
            .into_iter()
            .zip(EventType::all())
            .map(|(rules, t)| {
                TypeIndex::new(
                    t,
                    &self.slots,
                    rules
                        .into_iter()
                        .map(|i| (i, &self.rules[i as usize].condition)),
                    &mut widths,
                )
            })
            .collect();
        self.memo_widths = widths;
        self.layout = LAYOUTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// The rules that pass the prefilter for `ev` (and would be evaluated in full), for
    /// profiling.
    #[doc(hidden)]
    pub fn candidates(&self, ev: &Event, scratch: &mut Scratch) -> Vec<usize> {
        let Some(index) = self.by_type.get(ev.etype.index()) else {
            return vec![];
        };
        scratch.next_event(self.slots.len(), self.memos);
        scratch.use_layout(self.layout, &self.memo_widths);
        let mut cx = Ctx {
            ev,
            defs: &self.slots,
            scratch,
        };
        let mut out = vec![];
        index.candidates(&mut cx, |pos, _| {
            out.push(index.rules[pos] as usize);
            true
        });
        out
    }

    /// The prefilter plan of each event type (its steps in order, and which rules use
    /// them), for profiling.
    #[doc(hidden)]
    pub fn index_summary(&self) -> String {
        let mut s = String::new();
        for (t, idx) in EventType::all().zip(&self.by_type) {
            if !idx.rules.is_empty() {
                s += &format!("{}\n{}", t.name(), idx.summary(&self.slots));
            }
        }
        s
    }

    pub fn rules(&self) -> &[CompiledRule] {
        &self.rules
    }

    pub fn rule(&self, index: usize) -> &CompiledRule {
        &self.rules[index]
    }

    pub fn enabled_rules(&self) -> impl Iterator<Item = &CompiledRule> {
        self.rules.iter().filter(|r| r.enabled)
    }

    /// The fields with no source that enabled rules read, by name, each with those rules:
    /// what the agent warns about at startup, since checks on them never hold.
    pub fn unsourced_fields(&self) -> Vec<UnsourcedField> {
        let mut out: std::collections::BTreeMap<&str, UnsourcedField> = Default::default();
        for r in self.enabled_rules() {
            for f in r.fields.iter() {
                let Some(reason) = f.def().no_source else {
                    continue;
                };
                out.entry(f.name())
                    .or_insert_with(|| UnsourcedField {
                        field: f.name().to_owned(),
                        reason,
                        rules: Vec::new(),
                    })
                    .rules
                    .push(r.name.clone());
            }
        }
        out.into_values().collect()
    }

    /// Enables or disables rules whose name matches `pattern` (`*` wildcards, as in
    /// falco.yaml's `rules:` selection). Returns how many rules matched.
    pub fn set_enabled_by_name(&mut self, pattern: &str, enabled: bool) -> usize {
        let glob = crate::eval::glob::Glob::new(pattern, false);
        let n = self.set_enabled_where(|r| glob.matches(&r.name), enabled);
        self.reindex();
        n
    }

    /// Enables or disables rules carrying `tag`.
    pub fn set_enabled_by_tag(&mut self, tag: &str, enabled: bool) -> usize {
        let n = self.set_enabled_where(|r| r.tags.iter().any(|t| t == tag), enabled);
        self.reindex();
        n
    }

    /// Disables rules less severe than `min` (falco.yaml `priority`).
    pub fn apply_min_priority(&mut self, min: Priority) -> usize {
        let n = self.set_enabled_where(|r| !r.priority.at_least(min), false);
        self.reindex();
        n
    }

    fn set_enabled_where(&mut self, pred: impl Fn(&CompiledRule) -> bool, enabled: bool) -> usize {
        let mut n = 0;
        for r in self.rules.iter_mut().filter(|r| pred(r)) {
            r.enabled = enabled;
            n += 1;
        }
        n
    }

    /// Every event type some enabled rule can match: what the probes must capture.
    pub fn event_types(&self) -> EvtSet {
        self.enabled_rules()
            .fold(EvtSet::empty(), |acc, r| acc.union(&r.evttypes))
    }

    /// A field cache sized for this ruleset. Keep one per evaluating thread.
    pub fn new_scratch(&self) -> Scratch {
        Scratch::new(self.slots.len(), self.memos)
    }

    /// Evaluates the rules that can fire on this event's type, in definition order, and
    /// pushes the indices of those that match into `matches`.
    pub fn evaluate(
        &self,
        ev: &Event,
        scratch: &mut Scratch,
        mode: RuleMatching,
        matches: &mut Vec<usize>,
    ) {
        let Some(index) = self.by_type.get(ev.etype.index()) else {
            return;
        };
        if index.rules.is_empty() {
            return;
        }
        scratch.next_event(self.slots.len(), self.memos);
        scratch.use_layout(self.layout, &self.memo_widths);
        let mut cx = Ctx {
            ev,
            defs: &self.slots,
            scratch,
        };
        // The rules whose guards hold, in definition order.
        index.candidates(&mut cx, |pos, cx| {
            if !index.conds[pos].eval(cx) {
                return true;
            }
            matches.push(index.rules[pos] as usize);
            mode == RuleMatching::All
        });
    }

    /// Builds the alert for a rule that matched `ev`. Uses the values `evaluate` cached in
    /// `scratch` for this event, extracting only what the output adds.
    pub fn alert(
        &self,
        rule: usize,
        ev: &Event,
        scratch: &mut Scratch,
        opts: &AlertOptions,
    ) -> Alert {
        let r = &self.rules[rule];
        for slot in r.output.slots() {
            scratch.ensure(&self.slots, slot, ev);
        }
        let mut message = String::new();
        r.output.render(scratch, &mut message);
        let message = message.trim().to_string();
        let (time_text, time_key) = if opts.time_iso8601 {
            (timefmt::iso8601(ev.ts), "evt.time.iso8601")
        } else {
            (timefmt::hms(ev.ts, opts.utc_offset_secs), "evt.time")
        };
        let output = format!("{time_text}: {} {message}", r.priority);
        let mut output_fields = Map::new();
        output_fields.insert(time_key.to_string(), ev.ts.into());
        r.output.output_fields(scratch, &mut output_fields);
        Alert {
            time_ns: ev.ts,
            rule: r.name.clone(),
            priority: r.priority,
            source: r.source.clone(),
            tags: r.tags.clone(),
            hostname: opts.hostname.clone(),
            message,
            output,
            output_fields,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::RulesSource;
    use crate::eval::test_events::open_event;
    use crate::{load_sources, CompileOptions};
    use peregrine_event::synth::{Generator, SynthConfig};
    use std::path::Path;

    /// Every enabled rule for the event's type, evaluated in full, with no prefilter.
    fn unfiltered(rs: &Ruleset, ev: &Event, scratch: &mut Scratch) -> Vec<usize> {
        scratch.next_event(rs.slots.len(), rs.memos);
        let mut cx = Ctx {
            ev,
            defs: &rs.slots,
            scratch,
        };
        rs.rules
            .iter()
            .enumerate()
            .filter(|(_, r)| r.enabled && r.evttypes.contains(ev.etype))
            .filter(|(_, r)| r.condition.eval(&mut cx))
            .map(|(i, _)| i)
            .collect()
    }

    /// The prefilter (guards, their order, the per-type specialisation) never changes a
    /// result: on streams rich in suspicious events, `evaluate` reports exactly the rules
    /// whose full conditions hold.
    #[test]
    fn prefiltered_evaluation_agrees_with_full_conditions() {
        let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata");
        let mut files = vec![
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/defaults/default_rules.yaml")
        ];
        if data.is_dir() {
            for f in [
                "falco_rules.yaml",
                "falco-incubating_rules.yaml",
                "falco-sandbox_rules.yaml",
            ] {
                files.push(data.join("upstream").join(f));
            }
        }
        for files in [&files[..1], &files[1..]] {
            if files.is_empty() {
                continue;
            }
            let sources: Vec<RulesSource> = files.iter().map(|f| RulesSource::read(f)).collect();
            let mut rs = load_sources(&sources, &CompileOptions::default())
                .ruleset
                .expect("rules load");
            rs.set_enabled_by_name("*", true);
            let (mut a, mut b) = (rs.new_scratch(), rs.new_scratch());
            let mut matched = 0;
            for (seed, suspicious) in [(42, 5), (7, 300), (9, 900), (11, 1000)] {
                let gen = Generator::new(SynthConfig {
                    seed,
                    containers: 12,
                    suspicious_per_mille: suspicious,
                    ..Default::default()
                });
                for ev in gen.take(20_000) {
                    let mut got = Vec::new();
                    rs.evaluate(&ev, &mut a, RuleMatching::All, &mut got);
                    let want = unfiltered(&rs, &ev, &mut b);
                    assert_eq!(got, want, "{ev:?}");
                    matched += got.len();
                    let mut first = Vec::new();
                    rs.evaluate(&ev, &mut a, RuleMatching::First, &mut first);
                    assert_eq!(first, want.first().copied().into_iter().collect::<Vec<_>>());
                }
            }
            assert!(matched > 1000, "the streams exercise the rules: {matched}");
        }
    }

    fn path_rules(prefix: &str) -> Ruleset {
        let yaml = format!(
            "- rule: below {prefix}\n  desc: d\n  condition: evt.type = openat and \
             (fd.name startswith {prefix} or fd.name contains /.x)\n  output: o\n  \
             priority: WARNING\n- rule: any open\n  desc: d\n  condition: evt.type = openat \
             and fd.name endswith .conf\n  output: o\n  priority: WARNING\n"
        );
        load_sources(
            &[RulesSource::new("r.yaml", yaml)],
            &CompileOptions::default(),
        )
        .ruleset
        .expect("rules load")
    }

    /// The prefilter keeps lookups of process fields per process snapshot: a new
    /// snapshot (a process after exec) or another container is looked up afresh.
    #[test]
    fn lookups_of_process_fields_follow_the_snapshot_and_container() {
        use peregrine_event::{ContainerInfo, ProcessInfo};
        let yaml = "- rule: shell\n  desc: d\n  condition: evt.type = openat and proc.name in \
                    (bash, sh)\n  output: o\n  priority: WARNING\n- rule: web image\n  desc: d\n  \
                    condition: evt.type = openat and container.image.repository in (nginx)\n  \
                    output: o\n  priority: WARNING\n";
        let rs = load_sources(
            &[RulesSource::new("r.yaml", yaml)],
            &CompileOptions::default(),
        )
        .ruleset
        .expect("rules load");
        let mut scratch = rs.new_scratch();
        let snapshot = |name: &str| {
            Arc::new(ProcessInfo {
                name: name.into(),
                ..Default::default()
            })
        };
        let image = |repo: &str| {
            Arc::new(ContainerInfo {
                id: format!("{repo}-0123456").into(),
                image_repository: Some(repo.into()),
                ..Default::default()
            })
        };
        let (bash, nginx_proc) = (snapshot("bash"), snapshot("nginx"));
        let (web, db) = (image("nginx"), image("postgres"));
        let mut matches = |p: &Arc<ProcessInfo>, c: &Arc<ContainerInfo>| {
            let mut ev = open_event("/tmp/x", 0);
            ev.process = Some(p.clone());
            ev.container = Some(c.clone());
            let mut m = Vec::new();
            rs.evaluate(&ev, &mut scratch, RuleMatching::All, &mut m);
            m
        };
        for _ in 0..3 {
            assert_eq!(matches(&bash, &web), [0, 1]);
            assert_eq!(matches(&nginx_proc, &web), [1]);
            assert_eq!(matches(&bash, &db), [0]);
            assert_eq!(matches(&nginx_proc, &db), Vec::<usize>::new());
        }
        // Snapshots built and dropped one after another (their memory reused): each is
        // looked up as it is.
        for i in 0..2000 {
            let name = if i % 3 == 0 { "sh" } else { "cat" };
            let want: &[usize] = if i % 3 == 0 { &[0] } else { &[] };
            assert_eq!(matches(&snapshot(name), &db), want, "snapshot {i}");
        }
    }

    /// A scratch keeps path lookups of the ruleset it evaluated last: used with another
    /// ruleset, or after rules were enabled or disabled, it must not answer from them.
    #[test]
    fn a_scratch_reused_across_rulesets_forgets_their_path_lookups() {
        let etc = path_rules("/etc");
        let mut var = path_rules("/var");
        let mut scratch = etc.new_scratch();
        let matches = |rs: &Ruleset, scratch: &mut Scratch, path: &str| {
            let mut m = Vec::new();
            rs.evaluate(&open_event(path, 0), scratch, RuleMatching::All, &mut m);
            m
        };
        for _ in 0..2 {
            assert_eq!(matches(&etc, &mut scratch, "/etc/a.conf"), [0, 1]);
            assert_eq!(matches(&etc, &mut scratch, "/var/a.conf"), [1]);
            assert_eq!(matches(&var, &mut scratch, "/var/a.conf"), [0, 1]);
            assert_eq!(matches(&var, &mut scratch, "/etc/a.conf"), [1]);
        }
        // Rule 1 alone: its lookups take the place of rule 0's.
        var.set_enabled_by_name("below /var", false);
        assert_eq!(matches(&var, &mut scratch, "/var/a.conf"), [1]);
        assert_eq!(
            matches(&var, &mut scratch, "/var/a.txt"),
            Vec::<usize>::new()
        );
        var.set_enabled_by_name("below /var", true);
        assert_eq!(matches(&var, &mut scratch, "/var/a.txt"), [0]);
    }
}
