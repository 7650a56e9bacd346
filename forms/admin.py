"""Forms of account administration: users, passwords, tokens, and the audit log filter."""
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, Optional, Regexp

from reporting.audit import KINDS
from reporting.models import ROLES

# a department filer is bound to a department, which `flask users create --department` names
ROLE_CHOICES = [SelectChoice(key, label) for key, label in ROLES.items() if key != "department_filer"]


class UserForm(FlaskForm):
    username = StringField("用户名", validators=[DataRequired("请填写用户名"), Length(max=50),
                                               Regexp(r"^[A-Za-z0-9_.-]+$", message="用户名只能用字母、数字和 _ . -")])
    full_name = StringField("姓名", validators=[Optional(), Length(max=50)])
    phone = StringField("联系电话", validators=[Optional(), Length(max=30)])
    role = SelectField("角色", choices=ROLE_CHOICES)
    region = StringField("所属区划代码", validators=[DataRequired("请填写区划代码"), Length(max=12)])
    password = PasswordField("初始密码", validators=[DataRequired("请设置初始密码"), Length(max=200)])


class EditUserForm(FlaskForm):
    full_name = StringField("姓名", validators=[Optional(), Length(max=50)])
    phone = StringField("联系电话", validators=[Optional(), Length(max=30)])
    role = SelectField("角色", choices=ROLE_CHOICES)
    region = StringField("所属区划代码", validators=[DataRequired("请填写区划代码"), Length(max=12)])
    active = BooleanField("启用")


class ResetPasswordForm(FlaskForm):
    password = PasswordField("新密码", validators=[DataRequired("请填写新密码"), Length(max=200)])


class ChangePasswordForm(FlaskForm):
    current = PasswordField("当前密码", validators=[DataRequired("请填写当前密码"), Length(max=200)])
    password = PasswordField("新密码（至少8个字符，含大写字母、小写字母、数字、符号中的至少三类）", validators=[DataRequired("请填写新密码"), Length(max=200)])
    confirm = PasswordField("再次输入新密码", validators=[EqualTo("password", message="两次输入的新密码不一致")])


class TokenForm(FlaskForm):
    label = StringField("用途", validators=[Optional(), Length(max=100)])


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter changes nothing

    region = StringField("区划代码", validators=[Optional(), Length(max=12)])
    user = StringField("用户名", validators=[Optional(), Length(max=50)])
    kind = SelectField("类型", choices=[SelectChoice("", "全部")] + [SelectChoice(k, v) for k, v in KINDS.items()],
                       validators=[Optional()])
    since = DateField("起始日期", validators=[Optional()])
    until = DateField("截止日期", validators=[Optional()])
