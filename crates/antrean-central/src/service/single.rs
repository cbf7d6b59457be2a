//! Shortcuts for a service of one office (the kiosk's embedded mode, its
//! tests and benchmarks): each is the same call on the first office
//! ([`Central::default_office`]). Requests never come through here: every
//! route works on the office its path names, once authorised for it.

use chrono::{DateTime, FixedOffset, NaiveDate};

use super::{CallAnswer, Central, CounterAnswer};
use crate::error::ServiceResult;
use crate::store::{CounterAction, StoredBooking};
use antrean_core::api::{
    BoardSnapshot, BookingRequest, BookingResponse, CheckinRequest, CheckinResponse,
};

impl Central {
    /// Now, in the first office's time zone.
    pub fn now(&self) -> DateTime<FixedOffset> {
        self.default_office().now()
    }

    /// Today in the first office's time zone.
    pub fn today(&self) -> NaiveDate {
        self.default_office().today()
    }

    /// [`super::Office::book`] at the first office.
    pub async fn book(&self, req: &BookingRequest) -> ServiceResult<BookingResponse> {
        self.default_office().book(req).await
    }

    /// [`super::Office::checkin`] at the first office.
    pub async fn checkin(&self, req: &CheckinRequest) -> ServiceResult<CheckinResponse> {
        self.default_office().checkin(req).await
    }

    /// [`super::Office::booking`] at the first office.
    pub async fn booking(&self, code: &str) -> ServiceResult<Option<StoredBooking>> {
        self.default_office().booking(code).await
    }

    /// [`super::Office::bookings_on`] at the first office.
    pub async fn bookings_on(&self, date: NaiveDate) -> ServiceResult<Vec<StoredBooking>> {
        self.default_office().bookings_on(date).await
    }

    /// [`super::Office::token_for`] at the first office.
    pub fn token_for(&self, b: &StoredBooking) -> String {
        self.default_office().token_for(b)
    }

    /// [`super::Office::next`] at the first office.
    pub async fn next(&self, counter: &str) -> ServiceResult<Option<CallAnswer>> {
        self.default_office().next(counter).await
    }

    /// [`super::Office::counter_action`] at the first office.
    pub async fn counter_action(
        &self,
        counter: &str,
        action: CounterAction,
    ) -> ServiceResult<CounterAnswer> {
        self.default_office().counter_action(counter, action).await
    }

    /// [`super::Office::notice`] at the first office.
    pub async fn notice(&self, text: Option<String>) -> ServiceResult<()> {
        self.default_office().notice(text).await
    }

    /// [`super::Office::board`] at the first office.
    pub async fn board(&self) -> ServiceResult<BoardSnapshot> {
        self.default_office().board().await
    }

    /// [`super::Office::seq`] at the first office.
    pub async fn seq(&self) -> ServiceResult<u64> {
        self.default_office().seq().await
    }

    /// [`super::Office::health`] at the first office.
    pub async fn health(
        &self,
        kiosk: &str,
        report: &antrean_core::api::HealthReport,
    ) -> ServiceResult<()> {
        self.default_office().health(kiosk, report).await
    }
}
