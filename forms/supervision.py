"""Forms of 督办: a new 约谈 or 督办单, the unit's 整改报告, 销号 and 退回重新整改; the rules live in
reporting/supervision.py."""
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import DateField, RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional


class SupervisionForm(FlaskForm):
    kind = RadioField("类型", choices=[SelectChoice("interview", "约谈"), SelectChoice("order", "督办单")], default="interview",
                      validators=[InputRequired(message="请选择约谈或督办单")])
    matter = TextAreaField("督办事项（存在的问题）", validators=[DataRequired(message="请填写督办事项"),
                                                           Length(max=2000, message="督办事项最多2000字")],
                           render_kw={"rows": 3, "maxlength": 2000})
    requirement = TextAreaField("整改要求 / 约谈内容", validators=[Optional(), Length(max=5000)],
                                render_kw={"rows": 4, "maxlength": 5000})
    due = DateField("整改时限", validators=[InputRequired(message="请填写整改时限")],
                    render_kw={"type": "date"})
    interview_date = DateField("约谈日期", validators=[Optional()], render_kw={"type": "date"})
    interview_place = StringField("约谈地点", validators=[Optional(), Length(max=100)], render_kw={"maxlength": 100})
    interviewee = StringField("约谈对象", validators=[Optional(), Length(max=100)],
                              render_kw={"maxlength": 100, "placeholder": "如：主要负责人"})
    interviewer = StringField("约谈人", validators=[Optional(), Length(max=100)], render_kw={"maxlength": 100})


class ResponseForm(FlaskForm):
    text = TextAreaField("整改情况", validators=[DataRequired(message="请填写整改情况"),
                                             Length(max=5000, message="整改情况最多5000字")],
                         render_kw={"rows": 4, "maxlength": 5000})
    measures = TextAreaField("整改措施", validators=[Optional(), Length(max=5000)],
                             render_kw={"rows": 3, "maxlength": 5000})
    promise = StringField("承诺完成时间或目标", validators=[Optional(), Length(max=200)],
                          render_kw={"maxlength": 200, "placeholder": "如：12月15日前完成率达到90%"})
    attachments = MultipleFileField("附件（PDF或图片，每个不超过10MB，可不传）",
                                    render_kw={"accept": ".pdf,.png,.jpg,.jpeg,application/pdf,image/png,image/jpeg"})


class CloseForm(FlaskForm):
    """销号 carries nothing but its CSRF token: the item is in the URL."""


class ReopenForm(FlaskForm):
    reason = StringField("退回原因", validators=[DataRequired(message="退回重新整改须填写原因"),
                                             Length(max=500, message="退回原因最多500字")],
                         render_kw={"maxlength": 500, "placeholder": "退回须填写原因"})
    due = DateField("新的整改时限（可不填）", validators=[Optional()], render_kw={"type": "date"})
