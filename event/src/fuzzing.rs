//! A time-budgeted fuzz driver on the stable toolchain, shared by every crate's
//! `tests/fuzz.rs` (feature `fuzzing`; never in the agent binary).
//!
//! [`fuzz`] draws inputs from a proptest strategy and hands each to a check until the budget
//! (`PEREGRINE_FUZZ_SECS`, default 3 s) is spent. The check says whether the input was
//! accepted or refused with an error; a panic is a finding: proptest shrinks the input and
//! the test fails with the minimal input and the seed that reproduces it
//! (`PEREGRINE_FUZZ_SEED`). Inputs come in chunks, each from its own seed, so a finding after
//! an hour replays in seconds. Nothing is written to disk.
//!
//! [`mutated_bytes`] and [`mutated_text`] build inputs by mutating valid samples, so they get
//! past a parser's first checks, mixed with some pure noise.

// Re-exported so harnesses build strategies without a proptest dependency of their own.
pub use proptest;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use std::fmt::Debug;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What a check made of one input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Parsed (decoded, loaded, answered) without error.
    Accepted,
    /// Refused with an error: fine, as long as it does not panic.
    Rejected,
}

/// How one target's run went.
#[derive(Clone, Debug)]
pub struct Report {
    pub name: String,
    pub inputs: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub elapsed: Duration,
}

/// How long to run: the budget, where to start, and when an input counts as hanging.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    pub budget: Duration,
    /// The first chunk's seed (random when `None`).
    pub seed: Option<u64>,
    /// An input that runs longer than this is a finding (shrunk like a panic).
    pub slow: Duration,
    /// An input still running after this aborts the process (a hang cannot be unwound),
    /// after printing the seed that reproduces it.
    pub hang: Duration,
}

impl Settings {
    /// From `PEREGRINE_FUZZ_SECS` (default 3) and `PEREGRINE_FUZZ_SEED`.
    pub fn from_env() -> Settings {
        let secs = std::env::var("PEREGRINE_FUZZ_SECS")
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .unwrap_or(3.0);
        let seed = std::env::var("PEREGRINE_FUZZ_SEED")
            .ok()
            .and_then(|s| s.trim().parse().ok());
        Settings {
            budget: Duration::from_secs_f64(secs),
            seed,
            slow: Duration::from_secs(10),
            hang: Duration::from_secs(120),
        }
    }
}

/// A finding: the minimal input, how it failed, and the seed of the chunk it came from.
#[derive(Debug)]
pub struct Finding {
    pub name: String,
    pub seed: u64,
    pub reason: String,
    /// The shrunk input, `Debug`-formatted and cut to a readable length.
    pub input: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let krate = std::env::var("CARGO_PKG_NAME").unwrap_or_else(|_| "<crate>".into());
        write!(
            f,
            "fuzz {}: finding: {}\nminimal input: {}\nreproduce: PEREGRINE_FUZZ_SEED={} \
             cargo test -p {krate} --test fuzz {} (the input is the chunk's first failure)",
            self.name, self.reason, self.input, self.seed, self.name
        )
    }
}

/// Runs `check` on inputs from `strategy` for the budget in the environment, prints the
/// counts, and panics on a finding or when every input had the same outcome (a target whose
/// inputs are all refused, or all accepted, tests little).
pub fn fuzz<S>(name: &str, strategy: S, check: impl Fn(S::Value) -> Outcome)
where
    S: Strategy,
    S::Value: Debug,
{
    fuzz_with(name, Settings::from_env(), strategy, check)
}

/// [`fuzz`] with explicit settings instead of the environment's.
pub fn fuzz_with<S>(
    name: &str,
    settings: Settings,
    strategy: S,
    check: impl Fn(S::Value) -> Outcome,
) where
    S: Strategy,
    S::Value: Debug,
{
    let report = match run(name, settings, strategy, check) {
        Ok(report) => report,
        Err(finding) => panic!("{finding}"),
    };
    println!(
        "fuzz {}: {} inputs in {:.1} s (accepted {}, rejected {})",
        report.name,
        report.inputs,
        report.elapsed.as_secs_f64(),
        report.accepted,
        report.rejected
    );
    assert!(
        report.accepted > 0 && report.rejected > 0,
        "fuzz {name}: inputs must be both accepted and rejected to test anything: {report:?}"
    );
}

/// The loop behind [`fuzz`], for callers that want the finding as a value.
pub fn run<S>(
    name: &str,
    settings: Settings,
    strategy: S,
    check: impl Fn(S::Value) -> Outcome,
) -> Result<Report, Finding>
where
    S: Strategy,
    S::Value: Debug,
{
    let start = Instant::now();
    let deadline = start + settings.budget;
    let accepted = AtomicU64::new(0);
    let rejected = AtomicU64::new(0);
    let mut seed = settings.seed.unwrap_or_else(random_seed);
    let watchdog = Watchdog::start(name, settings.hang);
    // Fixed, so a chunk's seed alone replays it; small, so a short budget sees many seeds.
    let chunk = 64u32;
    loop {
        watchdog.seed.store(seed, Ordering::Relaxed);
        let config = Config {
            cases: chunk,
            failure_persistence: None,
            max_shrink_time: 60_000,
            max_shrink_iters: 4_096,
            ..Config::default()
        };
        let mut runner = TestRunner::new_with_rng(config, rng_for(seed));
        for _ in 0..chunk {
            if Instant::now() >= deadline {
                return Ok(Report {
                    name: name.into(),
                    inputs: accepted.load(Ordering::Relaxed) + rejected.load(Ordering::Relaxed),
                    accepted: accepted.load(Ordering::Relaxed),
                    rejected: rejected.load(Ordering::Relaxed),
                    elapsed: start.elapsed(),
                });
            }
            let tree = strategy
                .new_tree(&mut runner)
                .unwrap_or_else(|why| panic!("fuzz {name}: the strategy gave up: {why}"));
            let result = runner.run_one(tree, |input| {
                let began = Instant::now();
                watchdog.enter();
                let outcome = check(input);
                watchdog.leave();
                let took = began.elapsed();
                if took > settings.slow {
                    return Err(TestCaseError::fail(format!(
                        "one input took {:.1} s (limit {:.0} s)",
                        took.as_secs_f64(),
                        settings.slow.as_secs_f64()
                    )));
                }
                match outcome {
                    Outcome::Accepted => accepted.fetch_add(1, Ordering::Relaxed),
                    Outcome::Rejected => rejected.fetch_add(1, Ordering::Relaxed),
                };
                Ok(())
            });
            // A panic leaves the watchdog armed: the next `enter` re-arms it anyway.
            watchdog.leave();
            match result {
                Ok(_) => {}
                Err(TestError::Fail(reason, input)) => {
                    return Err(Finding {
                        name: name.into(),
                        seed,
                        reason: reason.to_string(),
                        input: shorten(format!("{input:?}"), 4_000),
                    })
                }
                Err(TestError::Abort(why)) => panic!("fuzz {name}: aborted: {why}"),
            }
        }
        seed = next_seed(seed);
    }
}

/// Aborts the process when one input runs past the hang limit, naming the seed first:
/// a hang cannot be caught like a panic.
struct Watchdog {
    seed: Arc<AtomicU64>,
    /// Milliseconds since `epoch` when the current input began; 0 when none is running.
    began: Arc<AtomicU64>,
    epoch: Instant,
    done: Arc<AtomicBool>,
}

impl Watchdog {
    fn start(name: &str, hang: Duration) -> Watchdog {
        let w = Watchdog {
            seed: Arc::default(),
            began: Arc::default(),
            epoch: Instant::now(),
            done: Arc::default(),
        };
        let (seed, began, done, epoch) = (w.seed.clone(), w.began.clone(), w.done.clone(), w.epoch);
        let name = name.to_string();
        std::thread::Builder::new()
            .name(format!("fuzz-watchdog-{name}"))
            .spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(200));
                    let b = began.load(Ordering::Relaxed);
                    let now = epoch.elapsed().as_millis() as u64;
                    if b != 0 && now.saturating_sub(b) > hang.as_millis() as u64 {
                        // Straight to fd 2: the test harness's capture dies with the process.
                        let _ = writeln!(
                            std::io::stderr(),
                            "fuzz {name}: an input has run for more than {} s (a hang); \
                             reproduce with PEREGRINE_FUZZ_SEED={}",
                            hang.as_secs(),
                            seed.load(Ordering::Relaxed)
                        );
                        std::process::abort();
                    }
                }
            })
            .expect("spawn the fuzz watchdog");
        w
    }

    fn enter(&self) {
        let now = (self.epoch.elapsed().as_millis() as u64).max(1);
        self.began.store(now, Ordering::Relaxed);
    }

    fn leave(&self) {
        self.began.store(0, Ordering::Relaxed);
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
    }
}

fn random_seed() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default();
    // Distinct per target even when several start in the same nanosecond.
    let local = 0u8;
    splitmix(nanos ^ u64::from(std::process::id()) ^ (&local as *const u8 as u64))
}

fn next_seed(seed: u64) -> u64 {
    splitmix(seed.wrapping_add(0x9E37_79B9_7F4A_7C15))
}

fn splitmix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn rng_for(seed: u64) -> TestRng {
    let mut bytes = [0u8; 32];
    let mut s = seed;
    for part in bytes.chunks_mut(8) {
        s = next_seed(s);
        part.copy_from_slice(&s.to_le_bytes());
    }
    TestRng::from_seed(RngAlgorithm::ChaCha, &bytes)
}

fn shorten(mut s: String, max: usize) -> String {
    if s.len() > max {
        let cut = (0..=max)
            .rev()
            .find(|&i| s.is_char_boundary(i))
            .unwrap_or(0);
        let more = s.len() - cut;
        s.truncate(cut);
        s.push_str(&format!("... ({more} bytes more)"));
    }
    s
}

/// One edit of a sample; positions and lengths are fractions of the current length so they
/// stay meaningful as the input changes.
#[derive(Clone, Debug)]
enum Edit {
    /// Flip one bit.
    Flip(u16, u8),
    /// Overwrite with a value parsers find interesting (0, -1, lengths at their edges).
    Interesting(u16, u8),
    Delete(u16, u8),
    Insert(u16, Vec<u8>),
    /// Insert one of the target's tokens.
    Token(u16, usize),
    /// Insert one of the target's tokens at the start of a line (a header, a YAML key):
    /// where most line-based formats look for a new item.
    TokenAtLine(u16, usize),
    /// Overwrite with one of the target's tokens.
    ReplaceWithToken(u16, usize),
    Truncate(u16),
    /// Copy a piece of another sample in.
    Splice(u16, usize, u16, u8),
    Duplicate(u16, u8),
}

const INTERESTING: &[&[u8]] = &[
    &[0],
    &[0xff],
    &[0x7f],
    &[0x80],
    &[0xff, 0xff],
    &[0, 0x80],
    &[0xff, 0xff, 0xff, 0xff],
    &[0xff, 0xff, 0xff, 0x7f],
    &[0, 0, 0, 0x80],
    &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
    &[0x10, 0, 0, 0],
    &[0, 1],
];

fn at(pos: u16, len: usize) -> usize {
    usize::from(pos) * len / 65_536
}

fn apply(buf: &mut Vec<u8>, edit: &Edit, samples: &[Vec<u8>], tokens: &[Vec<u8>]) {
    let len = buf.len();
    match edit {
        Edit::Flip(pos, bit) if len > 0 => buf[at(*pos, len)] ^= 1 << (bit % 8),
        Edit::Interesting(pos, which) if len > 0 => {
            let v = INTERESTING[usize::from(*which) % INTERESTING.len()];
            let i = at(*pos, len);
            let end = (i + v.len()).min(len);
            buf[i..end].copy_from_slice(&v[..end - i]);
        }
        Edit::Delete(pos, n) if len > 0 => {
            let i = at(*pos, len);
            let end = (i + usize::from(*n) % 32 + 1).min(len);
            buf.drain(i..end);
        }
        Edit::Insert(pos, bytes) => {
            let i = at(*pos, len + 1);
            buf.splice(i..i, bytes.iter().copied());
        }
        Edit::Token(pos, t) if !tokens.is_empty() => {
            let i = at(*pos, len + 1);
            buf.splice(i..i, tokens[t % tokens.len()].iter().copied());
        }
        Edit::TokenAtLine(pos, t) if !tokens.is_empty() => {
            let from = at(*pos, len + 1);
            let i = buf[from..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(0, |nl| from + nl + 1);
            buf.splice(i..i, tokens[t % tokens.len()].iter().copied());
        }
        Edit::ReplaceWithToken(pos, t) if !tokens.is_empty() && len > 0 => {
            let tok = &tokens[t % tokens.len()];
            let i = at(*pos, len);
            let end = (i + tok.len()).min(len);
            buf.splice(i..end, tok.iter().copied());
        }
        Edit::Truncate(pos) => buf.truncate(at(*pos, len)),
        Edit::Splice(pos, other, from, n) if !samples.is_empty() => {
            let src = &samples[other % samples.len()];
            let s = at(*from, src.len());
            let e = (s + usize::from(*n) + 1).min(src.len());
            let i = at(*pos, len + 1);
            buf.splice(i..i, src[s..e].iter().copied());
        }
        Edit::Duplicate(pos, n) if len > 0 => {
            let i = at(*pos, len);
            let e = (i + usize::from(*n) + 1).min(len);
            let piece = buf[i..e].to_vec();
            buf.splice(e..e, piece);
        }
        _ => {}
    }
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        3 => (any::<u16>(), any::<u8>()).prop_map(|(p, b)| Edit::Flip(p, b)),
        2 => (any::<u16>(), any::<u8>()).prop_map(|(p, w)| Edit::Interesting(p, w)),
        2 => (any::<u16>(), any::<u8>()).prop_map(|(p, n)| Edit::Delete(p, n)),
        2 => (any::<u16>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(p, b)| Edit::Insert(p, b)),
        3 => (any::<u16>(), any::<usize>()).prop_map(|(p, t)| Edit::Token(p, t)),
        2 => (any::<u16>(), any::<usize>()).prop_map(|(p, t)| Edit::TokenAtLine(p, t)),
        2 => (any::<u16>(), any::<usize>()).prop_map(|(p, t)| Edit::ReplaceWithToken(p, t)),
        1 => any::<u16>().prop_map(Edit::Truncate),
        2 => (any::<u16>(), any::<usize>(), any::<u16>(), any::<u8>())
            .prop_map(|(p, o, f, n)| Edit::Splice(p, o, f, n)),
        1 => (any::<u16>(), any::<u8>()).prop_map(|(p, n)| Edit::Duplicate(p, n)),
    ]
}

/// Byte strings: mostly a sample with up to eight edits (bit flips, edge values, deletions,
/// insertions of noise or of `tokens`, truncation, splices from other samples); some
/// unedited samples; some pure noise up to `max_noise` bytes.
pub fn mutated_bytes(
    samples: Vec<Vec<u8>>,
    tokens: Vec<Vec<u8>>,
    max_noise: usize,
) -> BoxedStrategy<Vec<u8>> {
    assert!(!samples.is_empty(), "mutated_bytes needs a sample");
    let samples = Arc::new(samples);
    let tokens = Arc::new(tokens);
    let n = samples.len();
    let edited = {
        let (samples, tokens) = (samples.clone(), tokens.clone());
        (0..n, prop::collection::vec(edit(), 1..8)).prop_map(move |(i, edits)| {
            let mut buf = samples[i].clone();
            for e in &edits {
                apply(&mut buf, e, &samples, &tokens);
            }
            buf
        })
    };
    let plain = {
        let samples = samples.clone();
        (0..n).prop_map(move |i| samples[i].clone())
    };
    prop_oneof![
        16 => edited,
        1 => plain,
        2 => prop::collection::vec(any::<u8>(), 0..=max_noise),
    ]
    .boxed()
}

/// Text: [`mutated_bytes`] on UTF-8 samples, read back lossily (so edits may also leave
/// replacement characters), plus noise made of the tokens and ASCII.
pub fn mutated_text(samples: Vec<String>, tokens: Vec<String>) -> BoxedStrategy<String> {
    let token_bytes: Vec<Vec<u8>> = tokens.iter().map(|t| t.clone().into_bytes()).collect();
    let bytes = mutated_bytes(
        samples.into_iter().map(String::into_bytes).collect(),
        token_bytes,
        256,
    )
    .prop_map(|b| String::from_utf8_lossy(&b).into_owned());
    let token_noise = if tokens.is_empty() {
        "[ -~\n]{0,64}".boxed()
    } else {
        let tokens = Arc::new(tokens);
        prop::collection::vec(
            prop_oneof![
                3 => (0..tokens.len()).prop_map({
                    let tokens = tokens.clone();
                    move |i| tokens[i].clone()
                }),
                1 => "[ -~\n]{1,4}",
            ],
            0..24,
        )
        .prop_map(|parts| parts.concat())
        .boxed()
    };
    prop_oneof![8 => bytes, 1 => token_noise].boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::ValueTree;

    fn settings(ms: u64, seed: Option<u64>) -> Settings {
        Settings {
            budget: Duration::from_millis(ms),
            seed,
            slow: Duration::from_secs(10),
            hang: Duration::from_secs(60),
        }
    }

    #[test]
    fn a_panic_is_reported_with_the_shrunk_input_and_a_seed_that_replays_it() {
        let check = |v: Vec<u8>| {
            if v.iter().filter(|b| **b > 200).count() >= 2 {
                panic!("two big bytes");
            }
            Outcome::Accepted
        };
        let strategy = || prop::collection::vec(any::<u8>(), 0..64);
        let finding = run("panics", settings(5_000, None), strategy(), check).unwrap_err();
        assert!(finding.reason.contains("two big bytes"), "{finding}");
        // Shrunk to the smallest input that still panics.
        assert_eq!(finding.input, "[201, 201]", "{finding}");
        let text = finding.to_string();
        assert!(text.contains(&format!("PEREGRINE_FUZZ_SEED={}", finding.seed)));
        // The seed replays the chunk: the same finding in its first chunk.
        let again = run(
            "panics",
            settings(5_000, Some(finding.seed)),
            strategy(),
            check,
        )
        .unwrap_err();
        assert_eq!((again.seed, again.input), (finding.seed, finding.input));
    }

    #[test]
    fn the_budget_is_respected_and_outcomes_counted() {
        let began = Instant::now();
        let report = run("budget", settings(300, None), any::<u8>(), |b| {
            std::thread::sleep(Duration::from_millis(1));
            if b % 2 == 0 {
                Outcome::Accepted
            } else {
                Outcome::Rejected
            }
        })
        .unwrap();
        let took = began.elapsed();
        assert!(took >= Duration::from_millis(300), "{took:?}");
        assert!(took < Duration::from_millis(600), "{took:?}");
        assert!(report.inputs > 20, "{report:?}");
        assert_eq!(report.inputs, report.accepted + report.rejected);
        assert!(report.accepted > 0 && report.rejected > 0, "{report:?}");
    }

    #[test]
    fn a_slow_input_is_a_finding() {
        let mut s = settings(5_000, None);
        s.slow = Duration::from_millis(50);
        let finding = run("slow", s, any::<u8>(), |b| {
            if b > 250 {
                std::thread::sleep(Duration::from_millis(80));
            }
            Outcome::Accepted
        })
        .unwrap_err();
        assert!(finding.reason.contains("took"), "{finding}");
    }

    #[test]
    #[should_panic(expected = "both accepted and rejected")]
    fn a_target_that_accepts_everything_fails() {
        fuzz_with("all-accepted", settings(100, None), any::<u8>(), |_| {
            Outcome::Accepted
        });
    }

    #[test]
    fn mutations_stay_near_the_samples() {
        let samples = vec![b"key: value\nother: 1\n".to_vec()];
        let strategy = mutated_bytes(samples.clone(), vec![b"{{".to_vec()], 32);
        let mut runner = TestRunner::new_with_rng(Config::default(), rng_for(7));
        let mut near = 0;
        let mut changed = 0;
        for _ in 0..500 {
            let v = strategy.new_tree(&mut runner).unwrap().current();
            if v != samples[0] {
                changed += 1;
            }
            if v.windows(3).any(|w| w == b"key") || v.windows(5).any(|w| w == b"other") {
                near += 1;
            }
        }
        assert!(changed > 400, "{changed}");
        assert!(near > 350, "most inputs keep most of the sample: {near}");
    }

    #[test]
    fn tokens_go_in_at_line_starts() {
        let tokens = [b"X: 1\r\n".to_vec()];
        let mut buf = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n".to_vec();
        apply(&mut buf, &Edit::TokenAtLine(1_000, 0), &[], &tokens);
        assert_eq!(buf, b"GET / HTTP/1.1\r\nX: 1\r\nHost: a\r\n\r\n");
        let mut last = b"a\nb".to_vec();
        apply(&mut last, &Edit::TokenAtLine(65_535, 0), &[], &tokens);
        assert_eq!(last, b"X: 1\r\na\nb", "no newline after: the first line");
    }

    #[test]
    fn long_inputs_are_cut_in_the_message() {
        let s = shorten("é".repeat(3_000), 4_001);
        assert!(s.ends_with("bytes more)"), "{s}");
        assert!(s.len() < 4_100);
    }
}
