"""What every module stands on: argument checks, seeding, the build's settings and
the ledger of trainings."""
