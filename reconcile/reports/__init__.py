"""Finance reports: one computation (a document), rendered as JSON, CSV, XLSX and HTML."""
