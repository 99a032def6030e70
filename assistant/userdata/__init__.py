"""What users leave behind: the SQL engine, saved conversations and feedback."""
