//! Handing messages between two threads that take turns (feature `std`):
//! [`receive`] polls a channel for a moment before it sleeps. Used where
//! one side usually answers within microseconds (wasmer's worker threads,
//! the read-ahead thread), since waking a sleeping thread costs tens of
//! microseconds on some machines (a 2-vCPU VM: as much as the work handed
//! over).

use std::sync::mpsc::{Receiver, RecvError, TryRecvError};
use std::thread;
use std::time::{Duration, Instant};

/// The next message on `inbox`: polled for `poll`, yielding the core
/// between looks (so that with more busy threads than cores the one with
/// work gets it: spinning without yielding made two callers on two cores
/// ten times slower), then waited for asleep. `Err` once every sender is
/// gone and the channel is empty.
pub fn receive<T>(inbox: &Receiver<T>, poll: Duration) -> Result<T, RecvError> {
    let until = Instant::now() + poll;
    loop {
        match inbox.try_recv() {
            Ok(message) => return Ok(message),
            Err(TryRecvError::Empty) if Instant::now() < until => thread::yield_now(),
            Err(TryRecvError::Empty) => return inbox.recv(),
            Err(TryRecvError::Disconnected) => return Err(RecvError),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;

    #[test]
    fn messages_arrive_polled_or_asleep_and_a_closed_channel_ends() {
        let (send, inbox) = mpsc::channel();
        send.send(1).unwrap();
        assert_eq!(receive(&inbox, Duration::from_micros(10)), Ok(1));
        let late = thread::spawn(move || {
            thread::sleep(Duration::from_millis(20));
            send.send(2).unwrap();
        });
        // Past the poll: the message is waited for asleep.
        assert_eq!(receive(&inbox, Duration::from_micros(10)), Ok(2));
        late.join().unwrap();
        assert_eq!(receive(&inbox, Duration::from_micros(10)), Err(RecvError));
    }
}
