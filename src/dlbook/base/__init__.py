"""What every module stands on: argument checks and seeding."""
