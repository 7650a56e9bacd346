"""Forms of the holiday page: a notice's lines for a year, and one entered day to delete."""
from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional


class HolidayNoticeForm(FlaskForm):
    year = IntegerField("年份", validators=[DataRequired("请填写通知所属的年份"),
                                          NumberRange(2000, 2100, "年份应在2000至2100之间")])
    text = TextAreaField("通知原文（每个节日一行）", validators=[
        DataRequired("请粘贴通知中的节日安排"), Length(max=5000, message="最多5000个字符")])


class HolidayRemoveForm(FlaskForm):
    """One entered day, or every entered day of a year, to delete."""
    day = DateField("日期", validators=[Optional()])
    year = IntegerField("年份", validators=[Optional(), NumberRange(2000, 2100, "年份应在2000至2100之间")])

    def validate(self, extra_validators=None) -> bool:
        if not super().validate(extra_validators):
            return False
        if (self.day.data is None) == (self.year.data is None):
            self.day.errors.append("请给出要删除的日期或年份")
            return False
        return True
