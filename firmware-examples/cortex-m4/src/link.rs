//! The network, simulated: a file delivered in packets of at most [`PACKET`] bytes through
//! `embedded_io::Read`, as a TCP socket or a UART would hand them over. Streaming mode never
//! sees more of a file than the caller's chunk buffer holds.

use core::convert::Infallible;

/// Bytes per packet: an odd size, so no field lines up with a packet boundary.
pub const PACKET: usize = 61;

/// One file being received.
pub struct Link<'a> {
    rest: &'a [u8],
}

impl<'a> Link<'a> {
    /// Starts receiving `file`.
    pub fn new(file: &'a [u8]) -> Self {
        Self { rest: file }
    }
}

impl embedded_io::ErrorType for Link<'_> {
    type Error = Infallible;
}

impl embedded_io::Read for Link<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        let n = buf.len().min(PACKET).min(self.rest.len());
        let (packet, rest) = self.rest.split_at(n);
        if let Some(dst) = buf.get_mut(..n) {
            dst.copy_from_slice(packet);
        }
        self.rest = rest;
        Ok(n)
    }
}
