"""Forms of the filing grid: the footer and submission, and the workbook upload.

The rules on the values and the signature live in reporting/validation.py; these forms only carry
the fields, so that the grid, the upload, the CLI and the API say the same thing.
"""
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from reporting.validation import REASON_LIMIT

REASON_TOO_LONG = f"修改原因最多{REASON_LIMIT}字"


class SubmitForm(FlaskForm):
    filer_name = StringField("填表人", validators=[Optional(), Length(max=50, message="填表人最多50字")],
                             render_kw={"maxlength": 50})
    filer_phone = StringField("联系电话", validators=[Optional(), Length(max=30, message="联系电话最多30字")],
                              render_kw={"maxlength": 30})
    filer_head = StringField("单位负责人", validators=[Optional(), Length(max=50, message="单位负责人最多50字")],
                             render_kw={"maxlength": 50})
    acknowledge = BooleanField("以上提示已核实，确认无误")
    reason = TextAreaField("修改原因", validators=[Optional(), Length(max=REASON_LIMIT, message=REASON_TOO_LONG)],
                           render_kw={"maxlength": REASON_LIMIT})


class UploadForm(FlaskForm):
    workbook = FileField("进度表文件（.xlsx）", validators=[FileRequired("请选择要上传的 .xlsx 文件")])
    submit_now = BooleanField("导入后直接提交")
    reason = StringField("修改原因（修改已提交的数据时必填）",
                         validators=[Optional(), Length(max=REASON_LIMIT, message=REASON_TOO_LONG)],
                         render_kw={"maxlength": REASON_LIMIT})
