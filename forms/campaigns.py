"""Forms of the campaign pages: next year's campaign from this one."""
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField
from wtforms.validators import Length, Optional


class NextCampaignForm(FlaskForm):
    name = StringField("新征缴期名称（留空：名称中的年份加一）",
                       validators=[Optional(), Length(max=200, message="名称最多200个字")])
    copy_targets = BooleanField("同时复制任务数（不勾选则另行导入任务分解表）")
