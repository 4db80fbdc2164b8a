"""bookings aggregate."""
