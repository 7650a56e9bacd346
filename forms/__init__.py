"""WTForms classes (Flask-WTF), one module per feature."""
