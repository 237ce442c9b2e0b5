//! [`KafkaSubscription`]: one member of a consumer group. `next` hands out messages in
//! partition order; `ack` commits the offset after the delivery (synchronously, so an `Ok`
//! means the group will not see it again). A member that goes away without acknowledging
//! leaves the group; the partitions move to another member, which resumes from the last
//! commit, so the unacknowledged messages are delivered again.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ballast_kit::events::{Delivery, Subscription};
use futures::future::BoxFuture;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use crate::codec;
use crate::config::KafkaConfig;
use crate::context::Context;
use crate::error::Error;

/// Pause after a consumer error before polling again (librdkafka retries by itself).
const ERROR_PAUSE: Duration = Duration::from_millis(200);

/// A consumer group member on some topics.
pub struct KafkaSubscription {
    /// `None` only while dropping.
    consumer: Option<Arc<StreamConsumer<Context>>>,
    config: KafkaConfig,
    group: String,
    /// The highest offset this member committed per (Kafka topic, partition), so an
    /// out-of-order ack never moves the group backwards.
    committed: HashMap<(String, i32), i64>,
}

impl KafkaSubscription {
    pub(crate) fn new(
        consumer: StreamConsumer<Context>,
        config: KafkaConfig,
        group: String,
    ) -> Self {
        Self {
            consumer: Some(Arc::new(consumer)),
            config,
            group,
            committed: HashMap::new(),
        }
    }

    fn consumer(&self) -> Result<Arc<StreamConsumer<Context>>, Error> {
        self.consumer
            .clone()
            .ok_or_else(|| Error::Config("the subscription is closed".into()))
    }

    async fn receive(&mut self) -> Result<Delivery, Error> {
        let consumer = self.consumer()?;
        loop {
            match consumer.recv().await {
                Ok(message) => {
                    let kafka_topic = message.topic();
                    let topic = self.config.bus_topic(kafka_topic);
                    match codec::decode(&message, topic) {
                        Ok(delivery) => return Ok(delivery),
                        // Not an event: skipped, and never committed by itself, so it shows
                        // as lag until a later event of the partition is acknowledged.
                        Err(reason) => tracing::error!(
                            group = self.group,
                            topic = kafka_topic,
                            partition = message.partition(),
                            offset = message.offset(),
                            reason,
                            "skipping a kafka message that is no event"
                        ),
                    }
                }
                Err(source) => {
                    if let Some((code, reason)) = consumer.client().fatal_error() {
                        return Err(Error::Fatal { code, reason });
                    }
                    tracing::warn!(group = self.group, error = %source, "kafka consumer error; retrying");
                    tokio::time::sleep(ERROR_PAUSE).await;
                }
            }
        }
    }

    async fn commit(&mut self, delivery: &Delivery) -> Result<(), Error> {
        let kafka_topic = self.config.kafka_topic(&delivery.event.topic);
        let next = delivery.offset.saturating_add(1);
        let position = (kafka_topic.clone(), delivery.partition);
        if self
            .committed
            .get(&position)
            .is_some_and(|done| *done >= next)
        {
            return Ok(());
        }
        let mut offsets = TopicPartitionList::new();
        offsets
            .add_partition_offset(&kafka_topic, delivery.partition, Offset::Offset(next))
            .map_err(Error::kafka("acknowledging"))?;
        let consumer = self.consumer()?;
        let result =
            tokio::task::spawn_blocking(move || consumer.commit(&offsets, CommitMode::Sync))
                .await?;
        match result {
            Ok(()) => {
                self.committed.insert(position, next);
                Ok(())
            }
            Err(KafkaError::ConsumerCommit(code)) if lost_ownership(code) => {
                // The partition moved to another member during a rebalance; that member
                // resumes from the previous commit and delivers this event again, and the
                // consumer's processed-events table makes the second delivery a no-op.
                tracing::warn!(
                    group = self.group,
                    topic = kafka_topic,
                    partition = delivery.partition,
                    offset = delivery.offset,
                    %code,
                    "kafka ack lost to a rebalance; the event will be redelivered"
                );
                Ok(())
            }
            Err(source) => Err(Error::Kafka {
                op: "acknowledging",
                source,
            }),
        }
    }
}

/// Commit errors meaning this member no longer owns the partition.
fn lost_ownership(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::RebalanceInProgress
            | RDKafkaErrorCode::IllegalGeneration
            | RDKafkaErrorCode::UnknownMemberId
            | RDKafkaErrorCode::FencedInstanceId
            | RDKafkaErrorCode::AssignmentLost
            | RDKafkaErrorCode::StaleMemberEpoch
    )
}

impl Subscription for KafkaSubscription {
    fn next(&mut self) -> BoxFuture<'_, anyhow::Result<Delivery>> {
        Box::pin(async move { Ok(self.receive().await?) })
    }

    fn ack<'a>(&'a mut self, delivery: &'a Delivery) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move { Ok(self.commit(delivery).await?) })
    }
}

impl Drop for KafkaSubscription {
    fn drop(&mut self) {
        // Closing a consumer leaves the group (so the others take its partitions over at
        // once) and blocks until done: do it off the async workers when there are any.
        if let Some(consumer) = self.consumer.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn_blocking(move || drop(consumer));
        }
    }
}
