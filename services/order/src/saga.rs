//! The order saga as plain data and pure functions: [`start`] opens a saga, [`step`] moves it
//! by one [`Input`] (an outcome from inventory, payment or shipping, a deadline tick or a
//! cancel request) and says which [`Command`]s to emit. No I/O and no clock: the caller
//! persists the new state and enqueues the commands in one transaction, and passes `now` in
//! the inputs that need it.
//!
//! Forward path: `reserving` → (stock reserved) `charging` → (payment captured) `committing`
//! → (stock committed) `done` with status `confirmed`. A rejection, a decline or the deadline
//! moves the saga to `compensating`: it asks inventory to release what it holds and payment to
//! refund (or void) what it charged, and only when both have answered is the order `failed`.
//! A cancel request does the same through `cancelling` and ends `cancelled`. Inputs a step does
//! not expect (duplicates, re-emitted outcomes, late answers) change nothing but the facts
//! they report, except a capture that arrives after the saga gave up: that is refunded.

use std::fmt;
use std::str::FromStr;

/// Where the saga is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    /// Waiting for inventory to hold the stock.
    Reserving,
    /// Waiting for payment to capture the charge.
    Charging,
    /// Waiting for inventory to make the reservation permanent.
    Committing,
    /// Undoing a failed saga: waiting for the release and the refund.
    Compensating,
    /// Undoing a cancelled order: waiting for the release and the refund.
    Cancelling,
    /// Finished (confirmed, failed or cancelled); only shipping updates and late payments move it.
    Done,
}

impl Step {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reserving => "reserving",
            Self::Charging => "charging",
            Self::Committing => "committing",
            Self::Compensating => "compensating",
            Self::Cancelling => "cancelling",
            Self::Done => "done",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Step {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(match text {
            "reserving" => Self::Reserving,
            "charging" => Self::Charging,
            "committing" => Self::Committing,
            "compensating" => Self::Compensating,
            "cancelling" => Self::Cancelling,
            "done" => Self::Done,
            other => return Err(format!("unknown saga step {other:?}")),
        })
    }
}

/// The order's status as users see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Accepted; the saga runs (or compensates a failure).
    Pending,
    /// Stock committed and payment captured (terminal; shipping may follow).
    Confirmed,
    /// The shipment is in transit.
    Shipped,
    /// The shipment arrived.
    Delivered,
    /// A cancel was accepted; stock and money are on their way back.
    Cancelling,
    /// The saga failed and was compensated (terminal).
    Failed,
    /// Cancelled and compensated (terminal).
    Cancelled,
}

impl Status {
    /// Every status, for metrics and documentation.
    pub const ALL: [Status; 7] = [
        Self::Pending,
        Self::Confirmed,
        Self::Shipped,
        Self::Delivered,
        Self::Cancelling,
        Self::Failed,
        Self::Cancelled,
    ];

    /// The stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Confirmed => "confirmed",
            Self::Shipped => "shipped",
            Self::Delivered => "delivered",
            Self::Cancelling => "cancelling",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// Whether the saga has reached an outcome (confirmed or later, failed, cancelled).
    pub fn is_terminal(self) -> bool {
        !matches!(self, Self::Pending | Self::Cancelling)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| format!("unknown order status {text:?}"))
    }
}

/// What the saga knows happened (each flag is set once and never cleared).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    /// Inventory holds the stock.
    pub reserved: bool,
    /// Inventory said it holds nothing for this order (rejected, or the reservation expired).
    pub nothing_held: bool,
    /// `payment.charge` was emitted.
    pub charge_requested: bool,
    /// Payment captured the charge.
    pub captured: bool,
    /// Payment declined the charge (nothing was taken).
    pub declined: bool,
    /// `inventory.commit` was emitted.
    pub commit_requested: bool,
    /// Inventory sold the stock.
    pub committed: bool,
    /// `inventory.release` was emitted.
    pub release_requested: bool,
    /// Inventory released the stock.
    pub released: bool,
    /// `payment.refund` was emitted.
    pub refund_requested: bool,
    /// Payment refunded (or voided) the charge.
    pub refunded: bool,
}

/// One order's saga state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saga {
    /// Where it is.
    pub step: Step,
    /// The order's status.
    pub status: Status,
    /// Why it failed (`out_of_stock`, `payment_declined`, `timeout`, ...) or was cancelled.
    pub reason: Option<String>,
    /// Unix ms after which the sweeper compensates it (or, compensating, re-sends its commands).
    pub deadline_at: i64,
    /// The saga's timeout in ms (also the interval between compensation re-sends).
    pub timeout_ms: i64,
    /// What happened.
    pub flags: Flags,
    /// What payment captured, minor units.
    pub captured_minor: i64,
    /// The shipment's last status (`label_created`, `in_transit`, `delivered`, `returned`).
    pub shipment_status: Option<String>,
}

/// What moves a saga.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// `inventory.reserved`.
    StockReserved,
    /// `inventory.rejected`: nothing is held.
    StockRejected {
        /// Why (`out_of_stock`, `reservation_expired`, ...).
        reason: String,
    },
    /// `inventory.committed`.
    StockCommitted,
    /// `inventory.released`.
    StockReleased,
    /// `payment.captured`.
    PaymentCaptured {
        /// Amount captured, minor units.
        amount_minor: i64,
    },
    /// `payment.declined`.
    PaymentDeclined {
        /// The provider's reason.
        reason: String,
    },
    /// `payment.refunded` (amount 0 for a voided pending charge).
    PaymentRefunded {
        /// Amount refunded, minor units.
        amount_minor: i64,
    },
    /// `shipment.created`.
    ShipmentCreated,
    /// `shipment.status_changed`.
    ShipmentStatus {
        /// `label_created`, `in_transit`, `delivered`, `returned`.
        status: String,
    },
    /// The sweeper's clock: compensates a saga past its deadline.
    Tick {
        /// Unix ms.
        now: i64,
    },
    /// The buyer asks to cancel.
    Cancel {
        /// Unix ms.
        now: i64,
    },
}

/// What the saga asks for: an event to emit (built from the order by the caller).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `order.created`.
    OrderCreated,
    /// `inventory.reserve`.
    ReserveStock,
    /// `payment.charge`.
    ChargePayment,
    /// `inventory.commit`.
    CommitStock,
    /// `inventory.release`.
    ReleaseStock {
        /// Why.
        reason: String,
    },
    /// `payment.refund` of everything captured (or a void of a pending charge).
    RefundPayment {
        /// Why.
        reason: String,
    },
    /// `order.confirmed`.
    OrderConfirmed,
    /// `order.failed`.
    OrderFailed {
        /// Why.
        reason: String,
    },
    /// `order.cancelled`.
    OrderCancelled,
}

/// Why a cancel request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelRefusal {
    /// A cancel is already under way (asking again changes nothing).
    AlreadyCancelling,
    /// The saga is failing or has an outcome that cannot be cancelled.
    NotCancellable(Status),
    /// The shipment is on its way (or arrived).
    Shipped,
}

/// The failure reason of a saga that ran out of time.
pub const TIMEOUT: &str = "timeout";
/// The failure reason of a declined payment.
pub const PAYMENT_DECLINED: &str = "payment_declined";
/// The reason given to inventory and payment when the buyer cancels.
pub const CANCELLED: &str = "cancelled";

/// A new saga at `now`, due by `now + timeout_ms`, and its first commands.
pub fn start(now: i64, timeout_ms: i64) -> (Saga, Vec<Command>) {
    let saga = Saga {
        step: Step::Reserving,
        status: Status::Pending,
        reason: None,
        deadline_at: now.saturating_add(timeout_ms),
        timeout_ms,
        flags: Flags::default(),
        captured_minor: 0,
        shipment_status: None,
    };
    (saga, vec![Command::OrderCreated, Command::ReserveStock])
}

/// Whether a cancel request would be accepted now.
pub fn cancel_allowed(saga: &Saga) -> Result<(), CancelRefusal> {
    match saga.step {
        Step::Reserving | Step::Charging | Step::Committing => Ok(()),
        Step::Cancelling => Err(CancelRefusal::AlreadyCancelling),
        Step::Compensating => Err(CancelRefusal::NotCancellable(saga.status)),
        Step::Done => match saga.status {
            Status::Confirmed
                if matches!(
                    saga.shipment_status.as_deref(),
                    None | Some("label_created")
                ) =>
            {
                Ok(())
            }
            Status::Confirmed | Status::Shipped | Status::Delivered => Err(CancelRefusal::Shipped),
            other => Err(CancelRefusal::NotCancellable(other)),
        },
    }
}

/// The saga after `input`, and the commands to emit (in order).
pub fn step(state: &Saga, input: Input) -> (Saga, Vec<Command>) {
    let mut saga = state.clone();
    let mut out = Vec::new();
    match input {
        Input::StockReserved => {
            saga.flags.reserved = true;
            match saga.step {
                Step::Reserving => {
                    saga.step = Step::Charging;
                    saga.flags.charge_requested = true;
                    out.push(Command::ChargePayment);
                }
                // Held after all, while undoing: make sure it goes back.
                Step::Compensating | Step::Cancelling => {
                    saga.flags.nothing_held = false;
                    let reason = undo_reason(&saga);
                    request_release(&mut saga, &mut out, &reason);
                }
                _ => {}
            }
        }
        Input::StockRejected { reason } => {
            saga.flags.nothing_held = true;
            match saga.step {
                // Nothing held and nothing charged: fails at once.
                Step::Reserving => compensate(&mut saga, &mut out, &reason),
                // The reservation expired before it was committed: the money goes back.
                Step::Charging | Step::Committing => compensate(&mut saga, &mut out, &reason),
                Step::Compensating | Step::Cancelling => finish_if_settled(&mut saga, &mut out),
                Step::Done => {}
            }
        }
        Input::StockCommitted => {
            saga.flags.committed = true;
            if saga.step == Step::Committing {
                saga.step = Step::Done;
                saga.status = Status::Confirmed;
                out.push(Command::OrderConfirmed);
            }
        }
        // Answers count only once asked for (an admin refund is not a compensation).
        Input::StockReleased => {
            if saga.flags.release_requested {
                saga.flags.released = true;
                finish_if_settled(&mut saga, &mut out);
            }
        }
        Input::PaymentCaptured { amount_minor } => {
            saga.flags.captured = true;
            saga.captured_minor = amount_minor;
            match saga.step {
                Step::Charging => {
                    saga.step = Step::Committing;
                    saga.flags.commit_requested = true;
                    out.push(Command::CommitStock);
                }
                Step::Compensating | Step::Cancelling => {
                    let reason = undo_reason(&saga);
                    request_refund(&mut saga, &mut out, &reason);
                }
                // A capture after the saga gave up (or one never asked for): give it back.
                Step::Done if matches!(saga.status, Status::Failed | Status::Cancelled) => {
                    let reason = undo_reason(&saga);
                    request_refund(&mut saga, &mut out, &reason);
                }
                // Money taken that was never asked for yet: remember it, so undoing refunds it.
                Step::Reserving => saga.flags.charge_requested = true,
                _ => {}
            }
        }
        Input::PaymentDeclined { reason: _ } => {
            if !saga.flags.charge_requested {
                return (saga, out);
            }
            saga.flags.declined = true;
            match saga.step {
                Step::Charging => compensate(&mut saga, &mut out, PAYMENT_DECLINED),
                Step::Compensating | Step::Cancelling => finish_if_settled(&mut saga, &mut out),
                _ => {}
            }
        }
        Input::PaymentRefunded { amount_minor: _ } => {
            if saga.flags.refund_requested {
                saga.flags.refunded = true;
                finish_if_settled(&mut saga, &mut out);
            }
        }
        Input::ShipmentCreated => {
            if saga.shipment_status.is_none() {
                saga.shipment_status = Some("label_created".to_owned());
            }
        }
        Input::ShipmentStatus { status } => {
            let rank = |s: Option<&str>| match s {
                None => 0,
                Some("label_created") => 1,
                Some("in_transit") => 2,
                Some("delivered") => 3,
                Some("returned") => 4,
                Some(_) => 0,
            };
            // Shipments only move forward; a late, older status changes nothing.
            if rank(Some(&status)) > rank(saga.shipment_status.as_deref()) {
                saga.shipment_status = Some(status.clone());
                match (status.as_str(), saga.status) {
                    ("in_transit", Status::Confirmed) => saga.status = Status::Shipped,
                    ("delivered", Status::Confirmed | Status::Shipped) => {
                        saga.status = Status::Delivered;
                    }
                    _ => {}
                }
            }
        }
        Input::Tick { now } => {
            if now >= saga.deadline_at {
                match saga.step {
                    Step::Reserving | Step::Charging | Step::Committing => {
                        saga.deadline_at = now.saturating_add(saga.timeout_ms);
                        compensate(&mut saga, &mut out, TIMEOUT);
                    }
                    // Still waiting for inventory or payment: ask again (they are idempotent).
                    Step::Compensating | Step::Cancelling => {
                        saga.deadline_at = now.saturating_add(saga.timeout_ms);
                        let reason = undo_reason(&saga);
                        if saga.flags.release_requested && !stock_settled(&saga) {
                            out.push(Command::ReleaseStock {
                                reason: reason.clone(),
                            });
                        }
                        if saga.flags.refund_requested && !payment_settled(&saga) {
                            out.push(Command::RefundPayment { reason });
                        }
                    }
                    Step::Done => {}
                }
            }
        }
        Input::Cancel { now } => {
            if cancel_allowed(&saga).is_ok() {
                saga.step = Step::Cancelling;
                saga.status = Status::Cancelling;
                saga.reason = Some(CANCELLED.to_owned());
                saga.deadline_at = now.saturating_add(saga.timeout_ms);
                undo(&mut saga, &mut out, CANCELLED);
            }
        }
    }
    (saga, out)
}

/// Turns a running saga into a failing one: release, refund, and fail when nothing is left.
fn compensate(saga: &mut Saga, out: &mut Vec<Command>, reason: &str) {
    saga.step = Step::Compensating;
    saga.reason = Some(reason.to_owned());
    undo(saga, out, reason);
}

/// Asks for everything held or charged back, then finishes if nothing is outstanding.
fn undo(saga: &mut Saga, out: &mut Vec<Command>, reason: &str) {
    if !saga.flags.nothing_held {
        request_release(saga, out, reason);
    }
    if saga.flags.charge_requested && !saga.flags.declined {
        request_refund(saga, out, reason);
    }
    finish_if_settled(saga, out);
}

fn request_release(saga: &mut Saga, out: &mut Vec<Command>, reason: &str) {
    if !saga.flags.release_requested {
        saga.flags.release_requested = true;
        out.push(Command::ReleaseStock {
            reason: reason.to_owned(),
        });
    }
}

fn request_refund(saga: &mut Saga, out: &mut Vec<Command>, reason: &str) {
    if !saga.flags.refund_requested {
        saga.flags.refund_requested = true;
        out.push(Command::RefundPayment {
            reason: reason.to_owned(),
        });
    }
}

/// The reason to give inventory and payment for undoing this saga.
fn undo_reason(saga: &Saga) -> String {
    saga.reason.clone().unwrap_or_else(|| TIMEOUT.to_owned())
}

/// Inventory holds nothing for the order any more.
fn stock_settled(saga: &Saga) -> bool {
    saga.flags.nothing_held || saga.flags.released
}

/// Payment holds no money of the order any more (nothing asked, declined, or given back).
fn payment_settled(saga: &Saga) -> bool {
    !saga.flags.charge_requested || saga.flags.declined || saga.flags.refunded
}

/// Ends a compensating or cancelling saga once inventory and payment have both answered.
fn finish_if_settled(saga: &mut Saga, out: &mut Vec<Command>) {
    let (status, command) = match saga.step {
        Step::Compensating => (
            Status::Failed,
            Command::OrderFailed {
                reason: undo_reason(saga),
            },
        ),
        Step::Cancelling => (Status::Cancelled, Command::OrderCancelled),
        _ => return,
    };
    if stock_settled(saga) && payment_settled(saga) {
        saga.step = Step::Done;
        saga.status = status;
        out.push(command);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_000_000;
    const TIMEOUT_MS: i64 = 30_000;

    fn new() -> Saga {
        start(T0, TIMEOUT_MS).0
    }

    /// Runs inputs in order and returns the final state and every command emitted.
    fn run(saga: &Saga, inputs: impl IntoIterator<Item = Input>) -> (Saga, Vec<Command>) {
        let mut saga = saga.clone();
        let mut all = Vec::new();
        for input in inputs {
            let (next, commands) = step(&saga, input);
            saga = next;
            all.extend(commands);
        }
        (saga, all)
    }

    fn release(reason: &str) -> Command {
        Command::ReleaseStock {
            reason: reason.into(),
        }
    }

    fn refund(reason: &str) -> Command {
        Command::RefundPayment {
            reason: reason.into(),
        }
    }

    fn failed(reason: &str) -> Command {
        Command::OrderFailed {
            reason: reason.into(),
        }
    }

    fn captured() -> Input {
        Input::PaymentCaptured { amount_minor: 500 }
    }

    fn declined() -> Input {
        Input::PaymentDeclined {
            reason: "card_declined".into(),
        }
    }

    fn rejected(reason: &str) -> Input {
        Input::StockRejected {
            reason: reason.into(),
        }
    }

    fn refunded() -> Input {
        Input::PaymentRefunded { amount_minor: 500 }
    }

    fn tick(at: i64) -> Input {
        Input::Tick { now: at }
    }

    fn charging() -> Saga {
        run(&new(), [Input::StockReserved]).0
    }

    fn committing() -> Saga {
        run(&new(), [Input::StockReserved, captured()]).0
    }

    fn confirmed() -> Saga {
        run(
            &new(),
            [Input::StockReserved, captured(), Input::StockCommitted],
        )
        .0
    }

    #[test]
    fn start_reserves_and_announces_the_order() {
        let (saga, commands) = start(T0, TIMEOUT_MS);
        assert_eq!(saga.step, Step::Reserving);
        assert_eq!(saga.status, Status::Pending);
        assert_eq!(saga.deadline_at, T0 + TIMEOUT_MS);
        assert_eq!(commands, vec![Command::OrderCreated, Command::ReserveStock]);
    }

    #[test]
    fn happy_path_reserves_charges_commits_and_confirms() {
        let (saga, commands) = run(
            &new(),
            [Input::StockReserved, captured(), Input::StockCommitted],
        );
        assert_eq!(
            commands,
            vec![
                Command::ChargePayment,
                Command::CommitStock,
                Command::OrderConfirmed
            ]
        );
        assert_eq!(saga.step, Step::Done);
        assert_eq!(saga.status, Status::Confirmed);
        assert_eq!(saga.captured_minor, 500);
        assert!(saga.flags.reserved && saga.flags.captured && saga.flags.committed);
    }

    #[test]
    fn shipping_moves_a_confirmed_order_to_shipped_then_delivered() {
        let (saga, commands) = run(
            &confirmed(),
            [
                Input::ShipmentCreated,
                Input::ShipmentStatus {
                    status: "in_transit".into(),
                },
            ],
        );
        assert!(commands.is_empty());
        assert_eq!(saga.status, Status::Shipped);
        let (saga, _) = step(
            &saga,
            Input::ShipmentStatus {
                status: "delivered".into(),
            },
        );
        assert_eq!(saga.status, Status::Delivered);
        // A late, older status does not move it back.
        let (late, _) = step(
            &saga,
            Input::ShipmentStatus {
                status: "in_transit".into(),
            },
        );
        assert_eq!(late, saga);
    }

    #[test]
    fn delivered_before_in_transit_still_ends_delivered() {
        let (saga, _) = run(
            &confirmed(),
            [
                Input::ShipmentStatus {
                    status: "delivered".into(),
                },
                Input::ShipmentStatus {
                    status: "in_transit".into(),
                },
                Input::ShipmentCreated,
            ],
        );
        assert_eq!(saga.status, Status::Delivered);
        assert_eq!(saga.shipment_status.as_deref(), Some("delivered"));
    }

    #[test]
    fn stock_rejected_fails_at_once_with_nothing_to_undo() {
        let (saga, commands) = step(&new(), rejected("out_of_stock"));
        assert_eq!(commands, vec![failed("out_of_stock")]);
        assert_eq!(saga.status, Status::Failed);
        assert_eq!(saga.step, Step::Done);
        assert_eq!(saga.reason.as_deref(), Some("out_of_stock"));
    }

    #[test]
    fn payment_declined_releases_the_stock_then_fails() {
        let (saga, commands) = step(&charging(), declined());
        assert_eq!(commands, vec![release(PAYMENT_DECLINED)]);
        assert_eq!(saga.step, Step::Compensating);
        assert_eq!(saga.status, Status::Pending);
        let (saga, commands) = step(&saga, Input::StockReleased);
        assert_eq!(commands, vec![failed(PAYMENT_DECLINED)]);
        assert_eq!(saga.status, Status::Failed);
        assert_eq!(saga.step, Step::Done);
    }

    #[test]
    fn timeout_while_reserving_releases_and_fails_when_released() {
        let (saga, commands) = step(&new(), tick(T0 + TIMEOUT_MS));
        assert_eq!(commands, vec![release(TIMEOUT)]);
        assert_eq!(saga.step, Step::Compensating);
        let (saga, commands) = step(&saga, Input::StockReleased);
        assert_eq!(commands, vec![failed(TIMEOUT)]);
        assert_eq!(saga.status, Status::Failed);
    }

    #[test]
    fn timeout_while_reserving_then_a_late_rejection_counts_as_released() {
        let (saga, _) = step(&new(), tick(T0 + TIMEOUT_MS));
        let (saga, commands) = step(&saga, rejected("out_of_stock"));
        assert_eq!(commands, vec![failed(TIMEOUT)]);
        assert_eq!(saga.status, Status::Failed);
    }

    #[test]
    fn timeout_while_reserving_then_a_late_reservation_waits_for_the_release() {
        let (saga, _) = step(&new(), tick(T0 + TIMEOUT_MS));
        let (saga, commands) = step(&saga, Input::StockReserved);
        assert!(commands.is_empty(), "no charge after the deadline");
        assert_eq!(saga.step, Step::Compensating);
        let (saga, commands) = step(&saga, Input::StockReleased);
        assert_eq!(commands, vec![failed(TIMEOUT)]);
        assert_eq!(saga.status, Status::Failed);
    }

    #[test]
    fn nothing_happens_before_the_deadline() {
        for saga in [new(), charging(), committing()] {
            let (next, commands) = step(&saga, tick(T0 + TIMEOUT_MS - 1));
            assert_eq!(next, saga);
            assert!(commands.is_empty());
        }
    }

    #[test]
    fn timeout_while_charging_releases_and_voids_then_fails() {
        let (saga, commands) = step(&charging(), tick(T0 + TIMEOUT_MS + 5));
        assert_eq!(commands, vec![release(TIMEOUT), refund(TIMEOUT)]);
        assert_eq!(saga.deadline_at, T0 + TIMEOUT_MS + 5 + TIMEOUT_MS);
        // The void answers first, the release second: fails only after both.
        let (saga, commands) = step(&saga, Input::PaymentRefunded { amount_minor: 0 });
        assert!(commands.is_empty());
        assert_eq!(saga.step, Step::Compensating);
        let (saga, commands) = step(&saga, Input::StockReleased);
        assert_eq!(commands, vec![failed(TIMEOUT)]);
        assert_eq!(saga.status, Status::Failed);
    }

    #[test]
    fn timeout_while_charging_then_a_decline_settles_the_payment() {
        let (saga, _) = step(&charging(), tick(T0 + TIMEOUT_MS));
        let (saga, commands) = run(&saga, [declined(), Input::StockReleased]);
        assert_eq!(commands, vec![failed(TIMEOUT)]);
        assert_eq!(saga.status, Status::Failed);
    }

    #[test]
    fn timeout_while_committing_releases_and_refunds() {
        let (saga, commands) = step(&committing(), tick(T0 + TIMEOUT_MS));
        assert_eq!(commands, vec![release(TIMEOUT), refund(TIMEOUT)]);
        let (saga, commands) = run(&saga, [Input::StockReleased, refunded()]);
        assert_eq!(commands, vec![failed(TIMEOUT)]);
        assert_eq!(saga.status, Status::Failed);
        assert!(saga.flags.refunded && saga.flags.released);
    }

    #[test]
    fn reservation_expired_at_commit_refunds_without_a_release() {
        let (saga, commands) = step(&committing(), rejected("reservation_expired"));
        assert_eq!(commands, vec![refund("reservation_expired")]);
        let (saga, commands) = step(&saga, refunded());
        assert_eq!(commands, vec![failed("reservation_expired")]);
        assert_eq!(saga.status, Status::Failed);
    }

    #[test]
    fn a_confirmed_or_failed_saga_ignores_ticks() {
        let (failed_saga, _) = step(&new(), rejected("out_of_stock"));
        for saga in [confirmed(), failed_saga] {
            let (next, commands) = step(&saga, tick(T0 + 10 * TIMEOUT_MS));
            assert_eq!(next, saga);
            assert!(commands.is_empty());
        }
    }

    #[test]
    fn a_stuck_compensation_resends_its_outstanding_commands_each_timeout() {
        let (saga, _) = step(&committing(), tick(T0 + TIMEOUT_MS));
        let (saga, _) = step(&saga, Input::StockReleased);
        let later = saga.deadline_at;
        let (next, commands) = step(&saga, tick(later - 1));
        assert!(commands.is_empty());
        assert_eq!(next, saga);
        let (next, commands) = step(&saga, tick(later));
        assert_eq!(
            commands,
            vec![refund(TIMEOUT)],
            "only the refund is missing"
        );
        assert_eq!(next.deadline_at, later + TIMEOUT_MS);
        assert_eq!(next.step, Step::Compensating);
    }

    #[test]
    fn a_late_capture_after_failure_is_refunded_once() {
        // Failed on a decline (no refund asked), then a capture shows up anyway.
        let (saga, _) = run(&charging(), [declined(), Input::StockReleased]);
        assert_eq!(saga.status, Status::Failed);
        let (saga, commands) = step(&saga, captured());
        assert_eq!(commands, vec![refund(PAYMENT_DECLINED)]);
        assert_eq!(saga.status, Status::Failed);
        let (saga, commands) = step(&saga, captured());
        assert!(commands.is_empty(), "one refund only");
        let (saga, commands) = step(&saga, refunded());
        assert!(commands.is_empty());
        assert_eq!(saga.status, Status::Failed);
    }

    #[test]
    fn a_capture_while_compensating_a_timeout_is_covered_by_the_void() {
        let (saga, _) = step(&charging(), tick(T0 + TIMEOUT_MS));
        let (saga, commands) = step(&saga, captured());
        assert!(commands.is_empty(), "the refund already asked covers it");
        let (saga, commands) = run(&saga, [Input::StockReleased, refunded()]);
        assert_eq!(commands, vec![failed(TIMEOUT)]);
        assert!(saga.flags.captured && saga.flags.refunded);
    }

    #[test]
    fn duplicate_outcomes_have_no_second_effect() {
        let (saga, commands) = run(
            &new(),
            [
                Input::StockReserved,
                Input::StockReserved,
                captured(),
                captured(),
                Input::StockReserved,
                Input::StockCommitted,
                Input::StockCommitted,
                captured(),
            ],
        );
        assert_eq!(
            commands,
            vec![
                Command::ChargePayment,
                Command::CommitStock,
                Command::OrderConfirmed
            ]
        );
        assert_eq!(saga.status, Status::Confirmed);

        let (saga, _) = run(&charging(), [declined(), Input::StockReleased]);
        let (again, commands) = run(&saga, [Input::StockReleased, declined()]);
        assert!(commands.is_empty());
        assert_eq!(again, saga);
    }

    #[test]
    fn compensation_answers_in_either_order_fail_once() {
        let (saga, _) = step(&committing(), tick(T0 + TIMEOUT_MS));
        let (a, ca) = run(&saga, [refunded(), Input::StockReleased]);
        let (b, cb) = run(&saga, [Input::StockReleased, refunded()]);
        assert_eq!(ca, vec![failed(TIMEOUT)]);
        assert_eq!(cb, ca);
        assert_eq!(a, b);
    }

    #[test]
    fn outcomes_for_steps_not_reached_change_no_step() {
        // Out of order: a commit or release answer before anything was asked.
        let (saga, commands) = run(
            &new(),
            [Input::StockCommitted, Input::StockReleased, refunded()],
        );
        assert!(commands.is_empty());
        assert_eq!(saga.step, Step::Reserving);
        assert!(!saga.flags.released && !saga.flags.refunded);
        // So a later timeout still waits for the real release.
        let (saga, commands) = step(&saga, tick(T0 + TIMEOUT_MS));
        assert_eq!(commands, vec![release(TIMEOUT)]);
        assert_eq!(saga.step, Step::Compensating);
        // A decline while reserving (no charge asked) is not a reason to fail.
        let (saga, commands) = step(&new(), declined());
        assert!(commands.is_empty());
        assert_eq!(saga, new());
    }

    #[test]
    fn cancel_while_reserving_releases_then_cancels() {
        let (saga, commands) = step(&new(), Input::Cancel { now: T0 + 10 });
        assert_eq!(commands, vec![release(CANCELLED)]);
        assert_eq!(saga.status, Status::Cancelling);
        assert_eq!(saga.deadline_at, T0 + 10 + TIMEOUT_MS);
        let (saga, commands) = step(&saga, Input::StockReleased);
        assert_eq!(commands, vec![Command::OrderCancelled]);
        assert_eq!(saga.status, Status::Cancelled);
        assert_eq!(saga.step, Step::Done);
    }

    #[test]
    fn cancel_while_charging_voids_and_a_late_reservation_or_capture_asks_nothing_new() {
        let (saga, commands) = step(&charging(), Input::Cancel { now: T0 });
        assert_eq!(commands, vec![release(CANCELLED), refund(CANCELLED)]);
        let (saga, commands) = run(
            &saga,
            [
                Input::StockReserved,
                captured(),
                Input::StockReleased,
                refunded(),
            ],
        );
        assert_eq!(commands, vec![Command::OrderCancelled]);
        assert_eq!(saga.status, Status::Cancelled);
    }

    #[test]
    fn cancel_after_confirmation_releases_sold_stock_and_refunds() {
        let (saga, commands) = run(
            &confirmed(),
            [Input::ShipmentCreated, Input::Cancel { now: T0 + 99 }],
        );
        assert_eq!(commands, vec![release(CANCELLED), refund(CANCELLED)]);
        assert_eq!(saga.status, Status::Cancelling);
        let (saga, commands) = run(&saga, [refunded(), Input::StockReleased]);
        assert_eq!(commands, vec![Command::OrderCancelled]);
        assert_eq!(saga.status, Status::Cancelled);
        // Shipping news after the cancel does not resurrect the order.
        let (saga, _) = step(
            &saga,
            Input::ShipmentStatus {
                status: "in_transit".into(),
            },
        );
        assert_eq!(saga.status, Status::Cancelled);
    }

    #[test]
    fn cancel_is_refused_once_shipped_or_finished() {
        let shipped = run(
            &confirmed(),
            [Input::ShipmentStatus {
                status: "in_transit".into(),
            }],
        )
        .0;
        assert_eq!(cancel_allowed(&shipped), Err(CancelRefusal::Shipped));
        let (same, commands) = step(&shipped, Input::Cancel { now: T0 });
        assert_eq!(same, shipped);
        assert!(commands.is_empty());

        let failed_saga = step(&new(), rejected("out_of_stock")).0;
        assert_eq!(
            cancel_allowed(&failed_saga),
            Err(CancelRefusal::NotCancellable(Status::Failed))
        );
        let compensating = step(&charging(), declined()).0;
        assert_eq!(
            cancel_allowed(&compensating),
            Err(CancelRefusal::NotCancellable(Status::Pending))
        );
        let cancelling = step(&new(), Input::Cancel { now: T0 }).0;
        assert_eq!(
            cancel_allowed(&cancelling),
            Err(CancelRefusal::AlreadyCancelling)
        );
        let (again, commands) = step(&cancelling, Input::Cancel { now: T0 + 1 });
        assert_eq!(again, cancelling);
        assert!(commands.is_empty());
        let cancelled = step(&cancelling, Input::StockReleased).0;
        assert_eq!(
            cancel_allowed(&cancelled),
            Err(CancelRefusal::NotCancellable(Status::Cancelled))
        );
        assert_eq!(cancel_allowed(&confirmed()), Ok(()));
        assert_eq!(cancel_allowed(&committing()), Ok(()));
    }

    #[test]
    fn a_stuck_cancellation_resends_after_its_timeout() {
        let (saga, _) = step(&committing(), Input::Cancel { now: T0 });
        let (saga, commands) = step(&saga, tick(T0 + TIMEOUT_MS));
        assert_eq!(commands, vec![release(CANCELLED), refund(CANCELLED)]);
        assert_eq!(saga.step, Step::Cancelling);
    }

    #[test]
    fn names_round_trip() {
        for status in Status::ALL {
            assert_eq!(status.as_str().parse::<Status>(), Ok(status));
        }
        for step in [
            Step::Reserving,
            Step::Charging,
            Step::Committing,
            Step::Compensating,
            Step::Cancelling,
            Step::Done,
        ] {
            assert_eq!(step.as_str().parse::<Step>(), Ok(step));
        }
        assert!("nope".parse::<Status>().is_err());
        assert!(Status::Confirmed.is_terminal() && !Status::Cancelling.is_terminal());
    }
}
