"""Forms of the review page (退回, 审核通过, in bulk) and of 催报; the rules live in reporting/review.py."""
from flask import current_app
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField
from wtforms.validators import AnyOf, Length, Optional, ValidationError

from reporting.outbound import AddressRefused, check_url


class ReviewForm(FlaskForm):
    action = HiddenField(validators=[AnyOf(("approve", "return"), message="操作应为审核通过或退回")])
    reason = StringField("退回原因", validators=[Optional(), Length(max=500, message="退回原因最多500字")],
                         render_kw={"maxlength": 500, "placeholder": "退回须填写原因"})


class ReminderForm(FlaskForm):
    """催报 carries nothing but its CSRF token: the period and the region are in the URL."""


class WebhookForm(FlaskForm):
    kind = HiddenField(validators=[AnyOf(("wecom", "dingtalk"), message="机器人类型有误")])
    url = StringField("群机器人推送地址（留空则删除）", validators=[Optional(), Length(max=500, message="地址最多500字")],
                      render_kw={"maxlength": 500, "size": 60})
    secret = StringField("加签密钥（钉钉，可不填）", validators=[Optional(), Length(max=200)],
                         render_kw={"maxlength": 200})
    mobiles = StringField("@手机号（逗号分隔，默认为用户电话）", validators=[Optional(), Length(max=200)],
                          render_kw={"maxlength": 200})

    def validate_url(self, field) -> None:
        """Only the robots' hosts (reporting/outbound.py): the rule is the sender's own."""
        if (field.data or "").strip():
            try:
                check_url(field.data, current_app.config)
            except AddressRefused as refused:
                raise ValidationError(str(refused)) from None
