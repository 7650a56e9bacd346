"""Forms of the 通报 pages: starting a draft, and editing its text and its issuing bureau."""
from flask_wtf import FlaskForm
from wtforms import IntegerField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length


class NewDraftForm(FlaskForm):
    region = StringField("区划代码", validators=[DataRequired("请选择区划"), Length(max=12)])
    period = IntegerField("报送期次", validators=[DataRequired("请选择期次")])


class EditForm(FlaskForm):
    title = StringField("标题", validators=[DataRequired("标题不能为空"), Length(max=300)])
    body = TextAreaField("正文", validators=[DataRequired("正文不能为空"), Length(max=20000)])
    issuer = StringField("发文机关", validators=[DataRequired("请填写发文机关"), Length(max=100)])
    prefix = StringField("机关代字", validators=[DataRequired("请填写机关代字，如 江医保"), Length(max=20)])
    addressee = StringField("主送", validators=[DataRequired("请填写主送机关"), Length(max=200)])
    copy_to = StringField("抄送", validators=[Length(max=300)])
    printed_by = StringField("印发机关", validators=[DataRequired("请填写印发机关"), Length(max=100)])
