//! A set of event types as a bitset over [`EventType::index`].

use peregrine_event::EventType;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvtSet {
    words: Box<[u64]>,
}

impl EvtSet {
    fn words() -> usize {
        EventType::count().div_ceil(64)
    }

    pub fn empty() -> EvtSet {
        EvtSet {
            words: vec![0; Self::words()].into(),
        }
    }

    pub fn all() -> EvtSet {
        let mut s = Self::empty();
        for t in EventType::all() {
            s.insert(t);
        }
        s
    }

    pub fn insert(&mut self, t: EventType) {
        let i = t.index();
        self.words[i / 64] |= 1 << (i % 64);
    }

    #[inline]
    pub fn contains(&self, t: EventType) -> bool {
        let i = t.index();
        self.words[i / 64] & (1 << (i % 64)) != 0
    }

    pub fn union(&self, o: &EvtSet) -> EvtSet {
        EvtSet {
            words: self
                .words
                .iter()
                .zip(o.words.iter())
                .map(|(a, b)| a | b)
                .collect(),
        }
    }

    pub fn intersect(&self, o: &EvtSet) -> EvtSet {
        EvtSet {
            words: self
                .words
                .iter()
                .zip(o.words.iter())
                .map(|(a, b)| a & b)
                .collect(),
        }
    }

    pub fn complement(&self) -> EvtSet {
        let all = Self::all();
        EvtSet {
            words: self
                .words
                .iter()
                .zip(all.words.iter())
                .map(|(a, b)| !a & b)
                .collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|w| *w == 0)
    }

    pub fn is_all(&self) -> bool {
        self.len() == EventType::count()
    }

    pub fn iter(&self) -> impl Iterator<Item = EventType> + '_ {
        EventType::all().filter(move |t| self.contains(*t))
    }
}
