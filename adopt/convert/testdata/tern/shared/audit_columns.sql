created_by text NOT NULL DEFAULT current_user
