//! Per-SLO roll-ups of bad and total events: rings of buckets at a few resolutions, each with
//! running window sums updated as buckets complete, so reading a 12-week window costs the same
//! as reading a 5-minute one.
//!
//! Every step (the engine's resolution, 1 minute by default) adds one [`Sums`] to every level.
//! Level 0 holds one bucket per step; coarser levels hold one bucket per `bucket_steps` steps
//! (15 and 60 steps by default). A window of `n` buckets at a level is the sum of its last `n`
//! complete buckets plus the level's current partial bucket, minus the part of the oldest
//! complete bucket that the partial bucket has displaced (linear interpolation: exact when
//! traffic is even within that one bucket). Windows at level 0 are exact sums of steps.

/// Bad and total events (or their rates: the arithmetic is the same).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sums {
    /// Bad events.
    pub bad: f64,
    /// All events.
    pub total: f64,
}

impl Sums {
    /// `bad` bad events out of `total`.
    pub const fn new(bad: f64, total: f64) -> Sums {
        Sums { bad, total }
    }

    fn add(&mut self, o: Sums) {
        self.bad += o.bad;
        self.total += o.total;
    }

    fn sub(&mut self, o: Sums) {
        self.bad -= o.bad;
        self.total -= o.total;
    }

    fn scaled(self, f: f64) -> Sums {
        Sums::new(self.bad * f, self.total * f)
    }
}

/// Where a window is read: which level, and how many of its buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    /// Index of the level.
    pub level: usize,
    /// Buckets of that level the window spans.
    pub buckets: usize,
}

/// Chooses the level of a window of `window_steps` steps among levels of `bucket_steps` each
/// (ascending, the first 1): the coarsest whose bucket divides the window and is at most a
/// 24th of it, so interpolation touches at most 1/24 of the window.
pub fn place(window_steps: u64, bucket_steps: &[u64]) -> Placement {
    let mut best = Placement {
        level: 0,
        buckets: usize::try_from(window_steps.max(1)).unwrap_or(usize::MAX),
    };
    for (i, b) in bucket_steps.iter().enumerate() {
        if *b > 0 && window_steps.is_multiple_of(*b) && b * 24 <= window_steps {
            best = Placement {
                level: i,
                buckets: usize::try_from(window_steps / b).unwrap_or(usize::MAX),
            };
        }
    }
    best
}

#[derive(Debug, Clone)]
struct Level {
    bucket_steps: u64,
    ring: Vec<Sums>,
    head: usize,
    filled: usize,
    partial: Sums,
    partial_steps: u64,
    // (buckets, running sum of the last `buckets` complete buckets)
    windows: Vec<(usize, Sums)>,
}

impl Level {
    fn complete(&mut self) {
        let cap = self.ring.len();
        let new = self.partial;
        for (n, sum) in &mut self.windows {
            sum.add(new);
            if self.filled >= *n {
                sum.sub(self.ring[(self.head + cap - *n) % cap]);
            }
        }
        self.ring[self.head] = new;
        self.head = (self.head + 1) % cap;
        self.filled = (self.filled + 1).min(cap);
        self.partial = Sums::default();
        self.partial_steps = 0;
        if self.head == 0 {
            // Once per lap, recompute the running sums so float drift cannot build up.
            for (n, sum) in &mut self.windows {
                *sum = Sums::default();
                for k in 1..=(*n).min(self.filled) {
                    sum.add(self.ring[(cap - k) % cap]);
                }
            }
        }
    }

    fn window(&self, slot: usize) -> (Sums, u64) {
        let (n, mut sum) = self.windows[slot];
        let cap = self.ring.len();
        let covered_buckets = self.filled.min(n) as u64;
        let mut covered = covered_buckets * self.bucket_steps;
        if self.partial_steps > 0 {
            sum.add(self.partial);
            covered += self.partial_steps;
            if self.filled >= n {
                let oldest = self.ring[(self.head + cap - n) % cap];
                let frac = self.partial_steps as f64 / self.bucket_steps as f64;
                sum.sub(oldest.scaled(frac));
                covered -= self.partial_steps;
            }
        }
        (sum, covered.min(n as u64 * self.bucket_steps))
    }
}

/// The roll-ups of one SLO: every window it reads, kept current step by step.
#[derive(Debug, Clone)]
pub struct Rollup {
    levels: Vec<Level>,
    // per window: (level, slot in that level's windows, window steps)
    windows: Vec<(usize, usize, u64)>,
    steps: u64,
}

/// The value of one window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowValue {
    /// Bad and total events in the window.
    pub sums: Sums,
    /// The fraction of the window that steps have been recorded for (below 1 until the
    /// engine has run, or backfilled, a whole window).
    pub coverage: f64,
}

impl Rollup {
    /// A roll-up for windows of the given lengths in steps, with levels of `bucket_steps`
    /// steps per bucket (ascending; a first level of 1 is added when missing).
    pub fn new(window_steps: &[u64], bucket_steps: &[u64]) -> Rollup {
        let mut sizes: Vec<u64> = bucket_steps.iter().copied().filter(|b| *b > 0).collect();
        sizes.push(1);
        sizes.sort_unstable();
        sizes.dedup();
        let mut levels: Vec<Level> = sizes
            .iter()
            .map(|b| Level {
                bucket_steps: *b,
                ring: Vec::new(),
                head: 0,
                filled: 0,
                partial: Sums::default(),
                partial_steps: 0,
                windows: Vec::new(),
            })
            .collect();
        let mut windows = Vec::new();
        for w in window_steps {
            let p = place(*w, &sizes);
            let level = &mut levels[p.level];
            let slot = match level.windows.iter().position(|(n, _)| *n == p.buckets) {
                Some(s) => s,
                None => {
                    level.windows.push((p.buckets, Sums::default()));
                    level.windows.len() - 1
                }
            };
            windows.push((p.level, slot, *w));
        }
        for l in &mut levels {
            let cap = l.windows.iter().map(|(n, _)| *n).max().unwrap_or(0);
            l.ring = vec![Sums::default(); cap.max(1)];
        }
        levels.retain(|l| !l.windows.is_empty());
        // Re-index after dropping unused levels.
        let kept: Vec<u64> = levels.iter().map(|l| l.bucket_steps).collect();
        for (level, _, _) in &mut windows {
            let size = sizes[*level];
            *level = kept.iter().position(|b| *b == size).unwrap_or(0);
        }
        Rollup {
            levels,
            windows,
            steps: 0,
        }
    }

    /// Records one step's events.
    pub fn push(&mut self, step: Sums) {
        self.steps += 1;
        for l in &mut self.levels {
            l.partial.add(step);
            l.partial_steps += 1;
            if l.partial_steps == l.bucket_steps {
                l.complete();
            }
        }
    }

    /// Steps recorded so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// The value of window `i` (in the order given to [`Rollup::new`]).
    pub fn window(&self, i: usize) -> WindowValue {
        let Some((level, slot, steps)) = self.windows.get(i).copied() else {
            return WindowValue {
                sums: Sums::default(),
                coverage: 0.0,
            };
        };
        let (sums, covered) = self.levels[level].window(slot);
        WindowValue {
            sums,
            coverage: if steps == 0 {
                1.0
            } else {
                covered as f64 / steps as f64
            },
        }
    }

    /// Buckets held in memory across all levels (for the benchmark).
    pub fn buckets(&self) -> usize {
        self.levels.iter().map(|l| l.ring.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn naive(history: &[Sums], steps: usize) -> Sums {
        let mut s = Sums::default();
        for x in history.iter().rev().take(steps) {
            s.add(*x);
        }
        s
    }

    #[test]
    fn places_windows_at_the_coarsest_level_that_divides_them() {
        let sizes = [1, 15, 60];
        assert_eq!(
            place(5, &sizes),
            Placement {
                level: 0,
                buckets: 5
            }
        );
        assert_eq!(
            place(360, &sizes),
            Placement {
                level: 1,
                buckets: 24
            }
        );
        assert_eq!(
            place(1440, &sizes),
            Placement {
                level: 2,
                buckets: 24
            }
        );
        assert_eq!(
            place(43_200, &sizes),
            Placement {
                level: 2,
                buckets: 720
            }
        );
        assert_eq!(
            place(7, &sizes),
            Placement {
                level: 0,
                buckets: 7
            }
        );
    }

    #[test]
    fn level_zero_windows_are_exact_sums() {
        let mut r = Rollup::new(&[5, 30, 60], &[1]);
        let mut hist = Vec::new();
        for i in 0..500u32 {
            let s = Sums::new(f64::from(i % 7), f64::from(100 + i % 13));
            hist.push(s);
            r.push(s);
            for (w, n) in [(0, 5), (1, 30), (2, 60)] {
                let got = r.window(w).sums;
                let want = naive(&hist, n);
                assert!((got.bad - want.bad).abs() < 1e-9, "step {i} window {n}");
                assert!((got.total - want.total).abs() < 1e-9, "step {i} window {n}");
            }
        }
        assert_eq!(r.window(2).coverage, 1.0);
    }

    #[test]
    fn coarse_windows_interpolate_the_oldest_bucket_and_are_exact_on_even_traffic() {
        // Even traffic: 10 total, 1 bad per step; the 1440-step window sits on 60-step buckets.
        let mut r = Rollup::new(&[1440], &[15, 60]);
        for i in 0..5000 {
            r.push(Sums::new(1.0, 10.0));
            let w = r.window(0);
            let expect = (i + 1).min(1440) as f64;
            assert!(
                (w.sums.total - 10.0 * expect).abs() < 1e-6,
                "step {i}: {w:?}"
            );
            assert!((w.sums.bad - expect).abs() < 1e-6, "step {i}");
            assert!((w.coverage - expect / 1440.0).abs() < 1e-9, "step {i}");
        }
    }

    #[test]
    fn coarse_windows_stay_within_one_bucket_of_uneven_traffic() {
        let mut r = Rollup::new(&[1440], &[60]);
        let mut hist = Vec::new();
        for i in 0..4000u32 {
            let s = Sums::new(f64::from(i % 5), f64::from(50 + (i * 37) % 101));
            hist.push(s);
            r.push(s);
        }
        let got = r.window(0).sums;
        let want = naive(&hist, 1440);
        // At most one bucket (60 steps of at most 150 events) off, and here far less.
        assert!((got.total - want.total).abs() <= 60.0 * 150.0);
        assert!((got.total - want.total).abs() / want.total < 0.01);
    }

    #[test]
    fn memory_is_bounded_by_the_windows_not_the_history() {
        let r = Rollup::new(&[5, 30, 60, 120, 360, 1440, 4320, 43_200], &[15, 60]);
        // 120 one-step buckets, 24 + 96 + 288 fifteen-step... levels sized by their widest window.
        assert!(r.buckets() < 1500, "{}", r.buckets());
    }
}
