"""Plans, entitlements and (later) Stripe billing of a workspace's members."""
