"""The one trainer of kdspeech, its checkpoints, optimisers, schedules and DDP set-up."""
