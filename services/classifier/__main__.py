from services.classifier.main import create_app
from services.classifier.settings import ClassifierSettings
from shared.service import run_service

settings = ClassifierSettings()
run_service(create_app(settings), settings)
