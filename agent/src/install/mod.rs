//! Installers: how a verified image becomes the firmware the device runs. Each gets only a
//! staged image whose length and every hash matched the signed metadata.

pub mod ab;
pub mod file;
