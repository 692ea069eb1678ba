DELETE FROM event_kinds WHERE kind IN ('signup', 'login');
