//! Sanctions list health at scrape time: the age of every loaded list and whether each may be
//! screened against now.
//!
//! Computed from the [`ListStore`]'s current snapshot on each scrape, with the same freshness
//! rule screening applies, so the gauge says exactly what the next proposal will meet: a list
//! past its maximum age (or never loaded) is `usable 0`, and every proposal is denied until it is
//! reloaded. One series per configured list id, so the label set is bounded by the
//! configuration.

use std::{fmt, sync::Arc};

use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeMetric},
    metrics::{MetricType, gauge::ConstGauge},
    registry::Unit,
};
use signgate_policy::sanctions::ListSlot;

use crate::{clock::SharedClock, lists::ListStore};

/// The collector registered for the gateway's lists.
#[derive(Debug)]
pub struct ListHealth {
    lists: Arc<ListStore>,
    /// The clock a list's age is measured by.
    clock: SharedClock,
}

impl ListHealth {
    /// Reports on `lists` at every scrape, ages measured by `clock`.
    pub fn new(lists: Arc<ListStore>, clock: SharedClock) -> Self {
        Self { lists, clock }
    }
}

impl Collector for ListHealth {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), fmt::Error> {
        let snapshot = self.lists.snapshot();
        let now = self.clock.system_time();
        {
            let mut age = encoder.encode_descriptor(
                "sanctions_list_age",
                "Seconds since the list's verified copy was loaded (absent: never loaded)",
                Some(&Unit::Seconds),
                MetricType::Gauge,
            )?;
            for slot in snapshot.slots() {
                if let ListSlot::Loaded(list) = slot {
                    // A copy loaded "in the future" (clock moved back) has no age; 0, and
                    // `usable` says it cannot be used.
                    let secs = now
                        .duration_since(list.loaded_at())
                        .map_or(0.0, |d| d.as_secs_f64());
                    ConstGauge::new(secs)
                        .encode(age.encode_family(&[("list", list.spec().id.as_str())])?)?;
                }
            }
        }
        {
            let mut max_age = encoder.encode_descriptor(
                "sanctions_list_max_age",
                "The configured maximum age of each list; older copies cannot be screened against",
                Some(&Unit::Seconds),
                MetricType::Gauge,
            )?;
            for slot in snapshot.slots() {
                let spec = slot.spec();
                ConstGauge::new(spec.max_age.as_secs_f64())
                    .encode(max_age.encode_family(&[("list", spec.id.as_str())])?)?;
            }
        }
        let mut usable = encoder.encode_descriptor(
            "sanctions_list_usable",
            "1 when the list is loaded and within its maximum age; 0 means every proposal is \
             denied (cannot screen) until it is reloaded",
            None,
            MetricType::Gauge,
        )?;
        for slot in snapshot.slots() {
            let ok = match slot {
                ListSlot::Loaded(list) => list.freshness(now).is_ok(),
                ListSlot::Unavailable { .. } => false,
            };
            ConstGauge::new(i64::from(ok))
                .encode(usable.encode_family(&[("list", slot.spec().id.as_str())])?)?;
        }
        Ok(())
    }
}
