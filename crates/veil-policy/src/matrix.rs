//! The entitlement matrix: who may read each data source, for many readers at once.
//!
//! Deciding reader by reader costs readers × sources condition evaluations.
//! Here a condition is evaluated once over a *set* of readers: each fact a
//! condition can name (a group, an attribute value, a purpose, a user name) is
//! indexed once as the set of readers holding it; hierarchical matches
//! (`GroupReaches`, `AttributeReaches`) are the union of the sets of the tag and
//! its ancestors; `and`, `or` and `not` are word-wise operations on bitsets.
//! Sources with the same merged condition share one evaluation, and a
//! sub-condition met more than once (a policy reaching many sources) is
//! evaluated once. The cost grows with distinct conditions × readers / 64, not
//! with readers × sources.
//!
//! ```
//! use veil_policy::{Catalog, Directory, Engine, PolicySet, Readers};
//! let policies = PolicySet::from_yaml_str(r#"
//! name: Access
//! type: subscription
//! actions: {type: entitlements, advanced: "@hasTagAsAttribute('Access', 'dataSource')"}
//! "#, "p.yaml").unwrap();
//! let users = Directory::from_yaml_str(
//!     "users:\n  - {name: bob, attributes: {Access: Secret}}\n  - {name: sam}\n", "u.yaml").unwrap();
//! let catalog = Catalog::from_yaml_str(
//!     "sources:\n  - {name: a, tags: [Secret.HR]}\n  - {name: b, tags: [Public]}\n", "c.yaml").unwrap();
//! let engine = Engine::new(policies, users, catalog).unwrap();
//! let subjects: Vec<_> = engine.directory().users().map(|u| engine.directory().subject(&u.name, None).unwrap()).collect();
//! let readers = Readers::new(&subjects);
//! let matrix = engine.entitlements(&readers);
//! assert_eq!(matrix[0].0, "a");
//! assert_eq!(matrix[0].1.iter().collect::<Vec<_>>(), [0]); // bob, not sam
//! assert_eq!(matrix[1].1.count(), 0);
//! ```

use std::collections::HashMap;

use veil_core::rows::TAG_SEPARATOR;

use crate::condition::Condition;
use crate::engine::Engine;
use crate::users::Subject;

/// A set of readers: bit `i` is the `i`-th subject given to [`Readers::new`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReaderSet {
    words: Vec<u64>,
    len: usize,
}

impl ReaderSet {
    /// No reader of `len`.
    pub fn empty(len: usize) -> Self {
        Self { words: vec![0; len.div_ceil(64)], len }
    }

    /// Every reader of `len`.
    pub fn full(len: usize) -> Self {
        let mut set = Self { words: vec![u64::MAX; len.div_ceil(64)], len };
        set.trim();
        set
    }

    /// Clear the bits past `len` in the last word.
    fn trim(&mut self) {
        let extra = self.words.len() * 64 - self.len;
        if let (Some(last), true) = (self.words.last_mut(), extra > 0) {
            *last &= u64::MAX >> extra;
        }
    }

    fn insert(&mut self, i: usize) {
        if let Some(w) = self.words.get_mut(i / 64) {
            *w |= 1 << (i % 64);
        }
    }

    /// Is reader `i` in the set?
    pub fn contains(&self, i: usize) -> bool {
        self.words.get(i / 64).is_some_and(|w| (w >> (i % 64)) & 1 == 1)
    }

    /// How many readers are in the set.
    pub fn count(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// How many readers the set is over (members or not).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the set is over no readers at all.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The members, in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.words.iter().enumerate().flat_map(|(k, &w)| {
            let mut bits = w;
            std::iter::from_fn(move || {
                if bits == 0 {
                    return None;
                }
                let b = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                Some(k * 64 + b)
            })
        })
    }

    fn and(&mut self, other: &ReaderSet) {
        self.words.iter_mut().zip(&other.words).for_each(|(a, b)| *a &= b);
    }

    fn or(&mut self, other: &ReaderSet) {
        self.words.iter_mut().zip(&other.words).for_each(|(a, b)| *a |= b);
    }

    fn invert(&mut self) {
        self.words.iter_mut().for_each(|w| *w = !*w);
        self.trim();
    }

    fn is_none(&self) -> bool {
        self.words.iter().all(|w| *w == 0)
    }
}

/// Readers indexed by the facts conditions name: for each group, attribute
/// value, purpose and user name, the readers holding it (sorted indexes).
#[derive(Debug)]
pub struct Readers<'s> {
    subjects: &'s [Subject],
    names: HashMap<&'s str, Vec<u32>>,
    groups: HashMap<&'s str, Vec<u32>>,
    attributes: HashMap<(&'s str, &'s str), Vec<u32>>,
    purposes: HashMap<&'s str, Vec<u32>>,
    /// Readers with recorded approvals (the only ones `Approved` can hold for).
    approved: Vec<u32>,
}

impl<'s> Readers<'s> {
    /// Index `subjects` (reader `i` is `subjects[i]`; fewer than 2³² of them).
    pub fn new(subjects: &'s [Subject]) -> Self {
        let mut r = Readers {
            subjects,
            names: HashMap::new(),
            groups: HashMap::new(),
            attributes: HashMap::new(),
            purposes: HashMap::new(),
            approved: Vec::new(),
        };
        for (i, s) in (0u32..).zip(subjects) {
            r.names.entry(s.name.as_str()).or_default().push(i);
            for g in &s.groups {
                r.groups.entry(g.as_str()).or_default().push(i);
            }
            for (k, values) in &s.attributes {
                for v in values {
                    r.attributes.entry((k.as_str(), v.as_str())).or_default().push(i);
                }
            }
            for p in &s.purposes {
                r.purposes.entry(p.as_str()).or_default().push(i);
            }
            if !s.approvals.is_empty() {
                r.approved.push(i);
            }
        }
        r
    }

    /// How many readers.
    pub fn len(&self) -> usize {
        self.subjects.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.subjects.is_empty()
    }

    fn set_of<'a>(&self, lists: impl IntoIterator<Item = &'a Vec<u32>>) -> ReaderSet {
        let mut set = ReaderSet::empty(self.len());
        for list in lists {
            for &i in list {
                set.insert(i as usize);
            }
        }
        set
    }

    /// Readers holding a value that reaches `tag` (the tag itself or an ancestor).
    fn reaching<'a>(&self, tag: &'a str, lookup: impl Fn(&'a str) -> Option<&'a Vec<u32>>) -> ReaderSet
    where
        's: 'a,
    {
        let prefixes = tag
            .char_indices()
            .filter(|&(_, c)| c == TAG_SEPARATOR)
            .filter_map(|(i, _)| tag.get(..i))
            .chain(std::iter::once(tag))
            .filter(|p| !p.is_empty());
        self.set_of(prefixes.filter_map(lookup))
    }

    /// The readers for whom `condition` holds.
    ///
    /// ```
    /// use veil_policy::{Condition, Directory, Readers};
    /// let dir = Directory::from_yaml_str("users:\n  - {name: ann, groups: [Sports]}\n  - {name: ben}\n", "u.yaml").unwrap();
    /// let subjects = [dir.subject("ann", None).unwrap(), dir.subject("ben", None).unwrap()];
    /// let readers = Readers::new(&subjects);
    /// let set = readers.holding(&Condition::GroupReaches { tag: "Sports.Football".into() });
    /// assert!(set.contains(0) && !set.contains(1));
    /// ```
    pub fn holding(&self, condition: &Condition) -> ReaderSet {
        self.eval(condition, &mut Memo::default())
    }

    fn eval<'c>(&self, c: &'c Condition, memo: &mut Memo<'c>) -> ReaderSet {
        if let Some(set) = memo.done.get(c) {
            return set.clone();
        }
        let n = self.len();
        let set = match c {
            Condition::Always => ReaderSet::full(n),
            Condition::Never => ReaderSet::empty(n),
            Condition::User { name } => self.set_of(self.names.get(name.as_str())),
            Condition::InGroup { group } => self.set_of(self.groups.get(group.as_str())),
            Condition::GroupReaches { tag } => self.reaching(tag, |p| self.groups.get(p)),
            Condition::HasAttribute { key, value } => self.set_of(self.attributes.get(&(key.as_str(), value.as_str()))),
            Condition::AttributeReaches { key, tag } => self.reaching(tag, |p| self.attributes.get(&(key.as_str(), p))),
            Condition::ActingUnder { purpose } => self.set_of(self.purposes.get(purpose.as_str())),
            Condition::Approved { .. } => {
                let mut set = ReaderSet::empty(n);
                for &i in &self.approved {
                    if self.subjects.get(i as usize).is_some_and(|s| c.eval(s)) {
                        set.insert(i as usize);
                    }
                }
                set
            }
            Condition::Not { of } => {
                let mut set = self.eval(of, memo);
                set.invert();
                set
            }
            Condition::All { of } => {
                let mut set = ReaderSet::full(n);
                for part in of {
                    set.and(&self.eval(part, memo));
                    if set.is_none() {
                        break;
                    }
                }
                set
            }
            Condition::Any { of } => {
                let mut set = ReaderSet::empty(n);
                for part in of {
                    set.or(&self.eval(part, memo));
                }
                set
            }
        };
        if memo.shared.get(c).is_some_and(|&k| k > 1) {
            memo.done.insert(c, set.clone());
        }
        set
    }
}

/// Sub-conditions met more than once, and their sets once evaluated.
#[derive(Default)]
struct Memo<'c> {
    shared: HashMap<&'c Condition, u32>,
    done: HashMap<&'c Condition, ReaderSet>,
}

impl<'c> Memo<'c> {
    /// Count every sub-condition of `c` (the condition itself is not counted:
    /// equal top-level conditions are grouped before).
    fn count(&mut self, c: &'c Condition) {
        if let Condition::Not { of } = c {
            self.count_one(of);
        }
        if let Condition::All { of } | Condition::Any { of } = c {
            for part in of {
                self.count_one(part);
            }
        }
    }

    fn count_one(&mut self, c: &'c Condition) {
        let seen = self.shared.entry(c).or_insert(0);
        *seen += 1;
        if *seen == 1 {
            self.count(c);
        }
    }
}

impl Engine {
    /// For every data source (in catalog order), the readers of `readers` who
    /// may read it: the same answer as [`Condition::eval`] of the source's
    /// access condition for each reader, computed over sets.
    pub fn entitlements(&self, readers: &Readers<'_>) -> Vec<(String, ReaderSet)> {
        let mut out = Vec::new();
        self.entitlements_each(readers, |source, set| out.push((source.to_string(), set.clone())));
        out
    }

    /// As [`Engine::entitlements`], handing each source's set to `each` instead
    /// of keeping them all (10,000 sources × 100,000 readers is 125 MB of sets).
    pub fn entitlements_each(&self, readers: &Readers<'_>, mut each: impl FnMut(&str, &ReaderSet)) {
        let access: Vec<_> = self.catalog().sources().map(|s| (s.name.as_str(), self.access_to(s))).collect();
        // Sources with the same condition: one evaluation.
        let mut distinct: HashMap<&Condition, usize> = HashMap::new();
        let mut which: Vec<usize> = Vec::with_capacity(access.len());
        let mut conditions: Vec<&Condition> = Vec::new();
        for (_, a) in &access {
            let next = conditions.len();
            let k = *distinct.entry(&a.condition).or_insert(next);
            if k == next {
                conditions.push(&a.condition);
            }
            which.push(k);
        }
        let mut memo = Memo::default();
        for c in &conditions {
            memo.count(c);
        }
        let sets: Vec<ReaderSet> = conditions.iter().map(|c| readers.eval(c, &mut memo)).collect();
        for ((source, _), k) in access.iter().zip(which) {
            if let Some(set) = sets.get(k) {
                each(source, set);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::users::{Approval, Subject};

    const TAGS: [&str; 6] = ["A", "A.B", "A.B.C", "A.X", "Z", "A.B.C.D"];
    const GROUPS: [&str; 4] = ["G1", "G2", "A", "A.B"];

    fn subject() -> impl Strategy<Value = Subject> {
        (
            0..4u8,
            proptest::sample::subsequence(GROUPS.to_vec(), 0..=3),
            proptest::sample::subsequence(TAGS.to_vec(), 0..=3),
            proptest::sample::subsequence(vec!["P1", "P2"], 0..=2),
            proptest::option::of(0..2u8),
        )
            .prop_map(|(name, groups, values, purposes, approval)| Subject {
                name: format!("u{name}"),
                groups: groups.into_iter().map(String::from).collect(),
                attributes: [("K".to_string(), values.into_iter().map(String::from).collect())].into(),
                project: None,
                purposes: purposes.into_iter().map(String::from).collect(),
                approvals: approval
                    .map(|a| Approval {
                        source: format!("s{a}"),
                        approver: "boss".into(),
                        approver_groups: ["G1".to_string()].into(),
                    })
                    .into_iter()
                    .collect(),
            })
    }

    fn condition() -> impl Strategy<Value = Condition> {
        let tag = proptest::sample::select(TAGS.to_vec()).prop_map(String::from);
        let leaf = prop_oneof![
            Just(Condition::Always),
            Just(Condition::Never),
            (0..5u8).prop_map(|n| Condition::User { name: format!("u{n}") }),
            proptest::sample::select(GROUPS.to_vec()).prop_map(|g| Condition::InGroup { group: g.into() }),
            tag.clone().prop_map(|tag| Condition::GroupReaches { tag }),
            tag.clone().prop_map(|value| Condition::HasAttribute { key: "K".into(), value }),
            tag.clone().prop_map(|tag| Condition::AttributeReaches { key: "K".into(), tag }),
            tag.prop_map(|tag| Condition::AttributeReaches { key: "Other".into(), tag }),
            proptest::sample::select(vec!["P1", "P2", "P3"]).prop_map(|p| Condition::ActingUnder { purpose: p.into() }),
            (0..3u8, any::<bool>()).prop_map(|(s, by_group)| Condition::Approved {
                source: format!("s{s}"),
                users: if by_group { vec![] } else { vec!["boss".into()] },
                groups: if by_group { vec!["G1".into()] } else { vec![] },
            }),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                inner.clone().prop_map(|c| Condition::Not { of: Box::new(c) }),
                proptest::collection::vec(inner.clone(), 0..4).prop_map(|of| Condition::All { of }),
                proptest::collection::vec(inner, 0..4).prop_map(|of| Condition::Any { of }),
            ]
        })
    }

    proptest! {
        /// Over sets, every condition holds for exactly the readers for whom
        /// `Condition::eval` says it holds (shared sub-conditions memoised or not).
        #[test]
        fn sets_agree_with_eval_reader_by_reader(
            subjects in proptest::collection::vec(subject(), 0..140),
            conditions in proptest::collection::vec(condition(), 1..6),
        ) {
            let readers = Readers::new(&subjects);
            let mut memo = Memo::default();
            for c in &conditions {
                memo.count(c);
            }
            for c in &conditions {
                let shared = readers.eval(c, &mut memo);
                let alone = readers.holding(c);
                prop_assert_eq!(&shared, &alone);
                prop_assert_eq!(shared.len(), subjects.len());
                for (i, s) in subjects.iter().enumerate() {
                    prop_assert_eq!(shared.contains(i), c.eval(s), "reader {} of {:?} for {}", i, s, c);
                }
                prop_assert_eq!(shared.iter().count(), shared.count());
                prop_assert!(shared.iter().all(|i| i < subjects.len()));
            }
        }
    }

    #[test]
    fn full_and_inverted_sets_hold_no_reader_past_the_end() {
        for n in [0, 1, 63, 64, 65, 130] {
            let full = ReaderSet::full(n);
            assert_eq!(full.count(), n);
            let mut none = full.clone();
            none.invert();
            assert_eq!(none.count(), 0);
            none.invert();
            assert_eq!(none, full);
        }
    }
}
