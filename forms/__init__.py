"""WTForms classes (Flask-WTF), one module per feature; WTForms' own messages speak Chinese."""
from flask_wtf import FlaskForm
from wtforms.i18n import get_translations

#: WTForms' built-in messages ("Field cannot be longer than…", "Not a valid integer value") in Chinese
_CHINESE = get_translations(["zh"])


def _chinese_messages(meta, form):
    return _CHINESE


# Every form of the site gets them, without a Babel setup (the interface has one language).
FlaskForm.Meta.get_translations = _chinese_messages
