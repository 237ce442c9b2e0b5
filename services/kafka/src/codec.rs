//! How an [`Event`] travels as a Kafka message: key = the event key (one order's events share a
//! partition and stay in order), payload = the event as JSON, headers `id`, `kind` and
//! `traceparent` (so tools and brokers can route or trace without parsing the payload).

use ballast_kit::events::{Delivery, Event};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};

/// Header carrying the event id.
pub const HEADER_ID: &str = "id";
/// Header carrying the event kind.
pub const HEADER_KIND: &str = "kind";
/// Header carrying the W3C trace context of the producing operation.
pub const HEADER_TRACEPARENT: &str = "traceparent";

/// The message headers of `event`.
pub fn headers(event: &Event) -> OwnedHeaders {
    let headers = OwnedHeaders::new_with_capacity(3)
        .insert(Header {
            key: HEADER_ID,
            value: Some(event.id.as_str()),
        })
        .insert(Header {
            key: HEADER_KIND,
            value: Some(event.kind.as_str()),
        });
    match &event.traceparent {
        Some(traceparent) => headers.insert(Header {
            key: HEADER_TRACEPARENT,
            value: Some(traceparent.as_str()),
        }),
        None => headers,
    }
}

/// The message payload of `event`.
pub fn payload(event: &Event) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(event)
}

/// The delivery a consumed message carries; `topic` is the bus topic of the message's Kafka
/// topic (without the prefix). An error says why the message is no event.
pub fn decode(message: &impl Message, topic: &str) -> Result<Delivery, String> {
    let payload = message.payload().ok_or("the message has no payload")?;
    let mut event: Event =
        serde_json::from_slice(payload).map_err(|e| format!("the payload is no event: {e}"))?;
    event.topic = topic.to_owned();
    if event.traceparent.is_none() {
        event.traceparent = header(message, HEADER_TRACEPARENT);
    }
    Ok(Delivery {
        event,
        partition: message.partition(),
        offset: message.offset(),
    })
}

/// The value of header `key` of `message`, when present and UTF-8.
pub fn header(message: &impl Message, key: &str) -> Option<String> {
    message
        .headers()?
        .iter()
        .find(|h| h.key == key)
        .and_then(|h| h.value)
        .and_then(|v| std::str::from_utf8(v).ok())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use rdkafka::Timestamp;
    use rdkafka::message::OwnedMessage;

    use super::*;

    fn event() -> Event {
        Event {
            id: "0190-id".into(),
            topic: "orders".into(),
            key: "order-1".into(),
            kind: "order.created".into(),
            payload: serde_json::json!({"total": 1250}),
            occurred_at: 1_700_000_000_000,
            traceparent: Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into()),
        }
    }

    fn message(event: &Event, kafka_topic: &str) -> OwnedMessage {
        OwnedMessage::new(
            Some(payload(event).unwrap()),
            Some(event.key.clone().into_bytes()),
            kafka_topic.into(),
            Timestamp::CreateTime(event.occurred_at),
            3,
            41,
            Some(headers(event)),
        )
    }

    #[test]
    fn an_event_round_trips_with_its_position() {
        let sent = event();
        let delivery = decode(&message(&sent, "staging.orders"), "orders").unwrap();
        assert_eq!(delivery.event, sent);
        assert_eq!((delivery.partition, delivery.offset), (3, 41));
    }

    #[test]
    fn headers_carry_id_kind_and_trace() {
        let sent = event();
        let received = message(&sent, "orders");
        assert_eq!(header(&received, HEADER_ID).as_deref(), Some("0190-id"));
        assert_eq!(
            header(&received, HEADER_KIND).as_deref(),
            Some("order.created")
        );
        assert_eq!(header(&received, HEADER_TRACEPARENT), sent.traceparent);
        let untraced = Event {
            traceparent: None,
            ..sent
        };
        assert_eq!(
            header(&message(&untraced, "orders"), HEADER_TRACEPARENT),
            None
        );
    }

    #[test]
    fn garbage_is_no_event() {
        let garbage = OwnedMessage::new(
            Some(b"not json".to_vec()),
            None,
            "orders".into(),
            Timestamp::NotAvailable,
            0,
            7,
            None,
        );
        assert!(decode(&garbage, "orders").unwrap_err().contains("no event"));
        let empty = OwnedMessage::new(
            None,
            None,
            "orders".into(),
            Timestamp::NotAvailable,
            0,
            8,
            None,
        );
        assert!(decode(&empty, "orders").unwrap_err().contains("no payload"));
    }
}
