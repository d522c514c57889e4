//! The deploy-idle Lambda.
