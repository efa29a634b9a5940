//! The board's memory map, its validation, and the partition of the address space into runs
//! of one kind ([`Segments`]) that both planners cover with regions.

use core::fmt;

/// A half-open address range `[start, end)`. Ranges cannot reach the last byte of the 4 GiB
/// address space (the System space lies there, never planned).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    /// First byte.
    pub start: u32,
    /// One past the last byte.
    pub end: u32,
}

impl Range {
    /// `[start, end)`.
    pub const fn new(start: u32, end: u32) -> Range {
        Range { start, end }
    }

    /// Number of bytes (0 if `end <= start`).
    pub const fn len(&self) -> u32 {
        self.end.saturating_sub(self.start)
    }

    /// Whether the range holds no byte.
    pub const fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    /// Whether `address` lies in the range.
    pub const fn contains(&self, address: u32) -> bool {
        self.start <= address && address < self.end
    }

    fn contains_range(&self, other: &Range) -> bool {
        self.start <= other.start && other.end <= self.end
    }

    fn overlaps(&self, other: &Range) -> bool {
        self.start < other.end && other.start < self.end
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{:#010x}, {:#010x})", self.start, self.end)
    }
}

/// The main stack: it grows down from `range.end`, and the `guard` bytes below `range.start`
/// are no-access, so an overflow faults instead of running into whatever lies below.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stack {
    /// The stack itself.
    pub range: Range,
    /// Bytes of no-access guard directly below `range.start` (non-zero).
    pub guard: u32,
}

impl Stack {
    /// The guard: `[range.start - guard, range.start)` (empty if it would wrap).
    pub const fn guard_range(&self) -> Range {
        match self.range.start.checked_sub(self.guard) {
            Some(start) => Range::new(start, self.range.start),
            None => Range::new(0, 0),
        }
    }
}

/// The memory-slot pool: `count` slots of `stride` bytes from `base`, each laid out as
/// `[front guard][linear memory ... reserved growth][back guard]` (the runtime's
/// `Platform::memory_alloc` hands out slot memories).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotPool {
    /// First byte of slot 0 (its front guard).
    pub base: u32,
    /// Number of slots (may be 0).
    pub count: u32,
    /// Bytes from one slot to the next.
    pub stride: u32,
    /// No-access bytes at the start of each slot (non-zero).
    pub front_guard: u32,
    /// No-access bytes at the end of each slot (0: the next slot's front guard, or whatever
    /// follows the pool, comes right after the memory).
    pub back_guard: u32,
}

impl SlotPool {
    /// The whole pool (`None` if it overflows the address space).
    pub fn range(&self) -> Option<Range> {
        let len = self.count.checked_mul(self.stride)?;
        Some(Range::new(self.base, self.base.checked_add(len)?))
    }

    /// The memory of slot `index`: between its guards (`None` past the last slot or if the
    /// pool is invalid).
    pub fn memory(&self, index: u32) -> Option<Range> {
        if index >= self.count || self.front_guard.checked_add(self.back_guard)? >= self.stride {
            return None;
        }
        let start = self.base.checked_add(index.checked_mul(self.stride)?)?;
        let end = start.checked_add(self.stride)?;
        Some(Range::new(start + self.front_guard, end - self.back_guard))
    }

    /// Whether `address` is in a guard of some slot.
    fn in_guard(&self, address: u32) -> bool {
        let Some(pool) = self.range() else {
            return false;
        };
        if !pool.contains(address) || self.stride == 0 {
            return false;
        }
        let offset = (address - self.base) % self.stride;
        offset < self.front_guard || offset >= self.stride - self.back_guard.min(self.stride)
    }
}

/// What a board's memory looks like to the planners. All ranges are half-open; see the crate
/// documentation for the access each kind gets.
#[derive(Clone, Copy, Debug)]
pub struct MemoryMap<'a> {
    /// Firmware code and read-only data (flash, ITCM): read-only, executable.
    pub code: &'a [Range],
    /// RAM: read-write, execute-never. The stack, its guard, the code pool and the slot pool
    /// lie inside it.
    pub ram: &'a [Range],
    /// Peripherals the firmware uses: read-write device memory, execute-never. PMSAv7 leaves
    /// them to the default memory map (they must lie in its Peripheral or Device spaces);
    /// PMSAv8 needs a region for each, since it has no background region.
    pub devices: &'a [Range],
    /// The main stack and its guard.
    pub stack: Stack,
    /// Where the runtime's code memory comes from: read-write and execute-never except the
    /// ranges published so far, which are read-only and executable.
    pub code_pool: Range,
    /// The linear-memory slots and their guards, when the slots have a fixed layout.
    pub slots: SlotPool,
    /// Further no-access guards, each inside a RAM range: for platforms that place memory
    /// slots at run time (the front guard of each live slot) instead of in a fixed
    /// [`SlotPool`] (give that `count: 0` then).
    pub guards: &'a [Range],
}

/// Why no plan could be made. Nothing is ever written to the MPU for a refused plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PlanError {
    /// A range is empty or inverted, a guard is zero-sized, or the slot pool is inconsistent
    /// (guards filling the stride, overflowing the address space).
    InvalidRange {
        /// The offending range (the slot pool's extent for a pool error).
        range: Range,
    },
    /// Two ranges that must be disjoint overlap.
    Overlap {
        /// One of them.
        first: Range,
        /// The other.
        second: Range,
    },
    /// The stack and its guard, the code pool or the slot pool is not inside one RAM range,
    /// or a published range is not inside the code pool.
    Outside {
        /// The range that should be contained.
        range: Range,
    },
    /// A boundary the MPU cannot express: not a multiple of 32 bytes (PMSAv8), or no region
    /// size and subregion pattern covers it exactly (PMSAv7).
    Misaligned {
        /// The first address that cannot be a region boundary.
        address: u32,
    },
    /// The plan needs more regions than the MPU has.
    TooManyRegions {
        /// Regions needed (counted up to the point where planning stopped).
        needed: u16,
        /// Regions available.
        available: u16,
    },
    /// The map has more boundaries than the planner's fixed-size work space holds
    /// (`MAX_BOUNDARIES`; thousands of slots, say).
    TooComplex,
    /// PMSAv7: RAM outside the address spaces that region 0 makes execute-never
    /// (`0x0000_0000..0x4000_0000`, `0x6000_0000..0xA000_0000`), or a device inside them.
    Unsupported {
        /// The offending range.
        range: Range,
    },
    /// The MPU implements fewer regions than the plan holds (found when applying it).
    NotEnoughHardwareRegions {
        /// Regions in the plan.
        planned: u16,
        /// `MPU_TYPE.DREGION`.
        implemented: u16,
    },
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanError::InvalidRange { range } => write!(f, "invalid range {range}"),
            PlanError::Overlap { first, second } => write!(f, "{first} overlaps {second}"),
            PlanError::Outside { range } => write!(f, "{range} is not inside its container"),
            PlanError::Misaligned { address } => {
                write!(f, "{address:#010x} cannot be an MPU region boundary")
            }
            PlanError::TooManyRegions { needed, available } => write!(
                f,
                "the plan needs at least {needed} MPU regions, {available} available"
            ),
            PlanError::TooComplex => write!(f, "too many range boundaries to plan"),
            PlanError::Unsupported { range } => {
                write!(
                    f,
                    "{range} lies in an address space the plan cannot give it"
                )
            }
            PlanError::NotEnoughHardwareRegions {
                planned,
                implemented,
            } => write!(
                f,
                "plan holds {planned} regions, the MPU implements {implemented}"
            ),
        }
    }
}

impl core::error::Error for PlanError {}

/// The set of published code ranges a board keeps between `code_publish` and `code_free`:
/// sorted, disjoint, at most `N` ranges.
#[derive(Clone, Debug)]
pub struct CodeRanges<const N: usize> {
    ranges: [Range; N],
    len: usize,
}

impl<const N: usize> Default for CodeRanges<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> CodeRanges<N> {
    /// No range published.
    pub const fn new() -> Self {
        CodeRanges {
            ranges: [Range::new(0, 0); N],
            len: 0,
        }
    }

    /// The published ranges, sorted by address.
    pub fn as_slice(&self) -> &[Range] {
        &self.ranges[..self.len]
    }

    /// Adds `range`; refused (nothing changed) if it is empty, overlaps a published range,
    /// or the set is full.
    pub fn insert(&mut self, range: Range) -> Result<(), PlanError> {
        if range.is_empty() {
            return Err(PlanError::InvalidRange { range });
        }
        if let Some(other) = self.as_slice().iter().find(|r| r.overlaps(&range)) {
            return Err(PlanError::Overlap {
                first: *other,
                second: range,
            });
        }
        if self.len == N {
            return Err(PlanError::TooComplex);
        }
        let at = self.as_slice().partition_point(|r| r.start < range.start);
        self.ranges.copy_within(at..self.len, at + 1);
        self.ranges[at] = range;
        self.len += 1;
        Ok(())
    }

    /// Removes `range` (exactly as inserted); returns whether it was there.
    pub fn remove(&mut self, range: Range) -> bool {
        match self.as_slice().iter().position(|r| *r == range) {
            Some(at) => {
                self.ranges.copy_within(at + 1..self.len, at);
                self.len -= 1;
                true
            }
            None => false,
        }
    }
}

/// What a run of addresses is, by the policy; later variants never override earlier ones
/// because validation keeps the kinds disjoint (guards and published code lie in RAM, and
/// take precedence over it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Listed nowhere.
    Unlisted,
    /// A stack or slot guard: no access.
    Guard,
    /// Firmware code or published code: read-only, executable.
    Code,
    /// RAM: read-write, execute-never.
    Ram,
    /// Peripheral: read-write device memory, execute-never.
    Device,
}

impl MemoryMap<'_> {
    /// Checks the map and the published ranges against each other (see [`PlanError`]).
    pub(crate) fn validate(&self, published: &[Range]) -> Result<(), PlanError> {
        let lists = [self.code, self.ram, self.devices];
        for list in lists {
            for range in list {
                if range.is_empty() {
                    return Err(PlanError::InvalidRange { range: *range });
                }
            }
        }
        // Code, RAM and devices are pairwise disjoint, also within one list.
        for (i, first) in lists.iter().flat_map(|l| l.iter()).enumerate() {
            for second in lists.iter().flat_map(|l| l.iter()).skip(i + 1) {
                if first.overlaps(second) {
                    return Err(PlanError::Overlap {
                        first: *first,
                        second: *second,
                    });
                }
            }
        }
        let stack_guard = self.stack.guard_range();
        if self.stack.range.is_empty() || self.stack.guard == 0 || stack_guard.is_empty() {
            return Err(PlanError::InvalidRange {
                range: self.stack.range,
            });
        }
        let stack = Range::new(stack_guard.start, self.stack.range.end);
        let pool = self.slots.range().ok_or(PlanError::InvalidRange {
            range: Range::new(self.slots.base, self.slots.base),
        })?;
        let slots_valid = self.slots.count == 0
            || (self.slots.front_guard > 0
                && self
                    .slots
                    .memory(0)
                    .is_some_and(|memory| !memory.is_empty()));
        if !slots_valid {
            return Err(PlanError::InvalidRange { range: pool });
        }
        if self.code_pool.is_empty() {
            return Err(PlanError::InvalidRange {
                range: self.code_pool,
            });
        }
        let in_ram = [stack, self.code_pool, pool];
        for range in in_ram.iter().filter(|r| !r.is_empty()) {
            if !self.ram.iter().any(|ram| ram.contains_range(range)) {
                return Err(PlanError::Outside { range: *range });
            }
        }
        for (i, first) in in_ram.iter().enumerate() {
            for second in &in_ram[i + 1..] {
                if first.overlaps(second) {
                    return Err(PlanError::Overlap {
                        first: *first,
                        second: *second,
                    });
                }
            }
        }
        for (i, guard) in self.guards.iter().enumerate() {
            if guard.is_empty() {
                return Err(PlanError::InvalidRange { range: *guard });
            }
            if !self.ram.iter().any(|ram| ram.contains_range(guard)) {
                return Err(PlanError::Outside { range: *guard });
            }
            let others = self.guards[i + 1..].iter().chain([&stack, &self.code_pool]);
            if let Some(other) = others.into_iter().find(|r| r.overlaps(guard)) {
                return Err(PlanError::Overlap {
                    first: *guard,
                    second: *other,
                });
            }
        }
        for (i, range) in published.iter().enumerate() {
            if range.is_empty() {
                return Err(PlanError::InvalidRange { range: *range });
            }
            if !self.code_pool.contains_range(range) {
                return Err(PlanError::Outside { range: *range });
            }
            if let Some(other) = published[i + 1..].iter().find(|r| r.overlaps(range)) {
                return Err(PlanError::Overlap {
                    first: *range,
                    second: *other,
                });
            }
        }
        Ok(())
    }

    /// The kind of `address` under the policy (`published`: the published code ranges).
    /// Only meaningful for a validated map.
    pub(crate) fn kind(&self, published: &[Range], address: u32) -> Kind {
        if self.stack.guard_range().contains(address)
            || self.slots.in_guard(address)
            || self.guards.iter().any(|g| g.contains(address))
        {
            Kind::Guard
        } else if published
            .iter()
            .chain(self.code)
            .any(|r| r.contains(address))
        {
            Kind::Code
        } else if self.ram.iter().any(|r| r.contains(address)) {
            Kind::Ram
        } else if self.devices.iter().any(|r| r.contains(address)) {
            Kind::Device
        } else {
            Kind::Unlisted
        }
    }
}

/// Most range boundaries a map may have (each range contributes two; each slot up to four).
pub(crate) const MAX_BOUNDARIES: usize = 160;

/// The address space cut at every boundary of the map into runs of one [`Kind`]: run `i` is
/// `[starts[i], starts[i + 1])` (the last run extends to 4 GiB), consecutive runs differ in
/// kind, and addresses below `starts[0]` are [`Kind::Unlisted`].
pub(crate) struct Segments {
    starts: [u32; MAX_BOUNDARIES],
    kinds: [Kind; MAX_BOUNDARIES],
    len: usize,
}

impl Segments {
    /// No boundary yet. Planners build the segments in place ([`Segments::cut`]) rather than
    /// return them: moving the 800-byte work space cost more than the planning itself on a
    /// Cortex-M (measured with `boards/mps3-an547/bench-mpu.sh`).
    pub(crate) const fn new() -> Segments {
        Segments {
            starts: [0; MAX_BOUNDARIES],
            kinds: [Kind::Unlisted; MAX_BOUNDARIES],
            len: 0,
        }
    }

    /// Cuts a validated map.
    pub(crate) fn cut(
        &mut self,
        map: &MemoryMap<'_>,
        published: &[Range],
    ) -> Result<(), PlanError> {
        // Every boundary into `starts`, then sorted; then, in place (the write index never
        // passes the read index), the first boundary of each run of one kind with its kind.
        let mut count = 0;
        let mut add = |range: Range| -> Result<(), PlanError> {
            for point in [range.start, range.end] {
                if count == MAX_BOUNDARIES {
                    return Err(PlanError::TooComplex);
                }
                self.starts[count] = point;
                count += 1;
            }
            Ok(())
        };
        for range in map
            .code
            .iter()
            .chain(map.ram)
            .chain(map.devices)
            .chain(published)
            .chain(map.guards)
        {
            add(*range)?;
        }
        add(map.stack.guard_range())?;
        add(map.stack.range)?;
        add(map.code_pool)?;
        for index in 0..map.slots.count {
            let memory = map.slots.memory(index).ok_or(PlanError::TooComplex)?;
            let slot_start = memory.start - map.slots.front_guard;
            add(Range::new(slot_start, memory.start))?;
            add(Range::new(memory.end, memory.end + map.slots.back_guard))?;
        }
        self.starts[..count].sort_unstable();
        self.len = 0;
        for read in 0..count {
            let point = self.starts[read];
            let kind = map.kind(published, point);
            if self.len > 0 && self.kinds[self.len - 1] == kind {
                continue;
            }
            self.starts[self.len] = point;
            self.kinds[self.len] = kind;
            self.len += 1;
        }
        Ok(())
    }

    /// The run holding `address` (`< 2^32`), as `[start, end)`: the maximal range around it
    /// whose addresses all have its kind.
    pub(crate) fn run_at(&self, address: u64) -> (u64, u64) {
        let starts = &self.starts[..self.len];
        let next = starts.partition_point(|&s| u64::from(s) <= address);
        let start = match next {
            0 => 0,
            i => u64::from(starts[i - 1]),
        };
        let end = starts.get(next).map_or(1 << 32, |&s| u64::from(s));
        (start, end)
    }

    /// The kind of every address of `[start, end)` if they all have the same one.
    pub(crate) fn uniform(&self, start: u64, end: u64) -> Option<Kind> {
        let starts = &self.starts[..self.len];
        // The first boundary after `start` (boundaries are sorted and distinct).
        let next = starts.partition_point(|&s| u64::from(s) <= start);
        let kind = match next {
            0 => Kind::Unlisted,
            i => self.kinds[i - 1],
        };
        let changes_inside = starts.get(next).is_some_and(|&s| u64::from(s) < end);
        (!changes_inside).then_some(kind)
    }

    /// The maximal runs of one kind as `(start, end, kind)`, in address order; the last run
    /// ends at 4 GiB.
    pub(crate) fn runs(&self) -> impl Iterator<Item = (u64, u64, Kind)> + '_ {
        (0..self.len).map(|i| {
            let end = self
                .starts
                .get(i + 1)
                .filter(|_| i + 1 < self.len)
                .map_or(1 << 32, |&s| u64::from(s));
            (u64::from(self.starts[i]), end, self.kinds[i])
        })
    }
}
